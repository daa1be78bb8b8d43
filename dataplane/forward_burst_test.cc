#include "dataplane/forward_burst.h"

#include <rte_config.h>
#include <rte_mbuf.h>

#include <atomic>
#include <deque>
#include <vector>

#include "absl/time/clock.h"
#include "dataplane/test_eal.h"
#include "dataplane/test_packets.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

// A port whose receive queue hands out queued packets and whose transmit queue keeps
// what it accepts, up to `tx_room` packets (the rest is refused, as from a full ring).
struct FakePort {
  std::deque<rte_mbuf*> to_receive;
  std::vector<rte_mbuf*> sent;
  size_t tx_room = SIZE_MAX;
  std::atomic<uint32_t> offloads{0};

  static uint16_t Rx(void* self, uint16_t, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakePort*>(self);
    uint16_t n = 0;
    while (n < count && !port->to_receive.empty()) {
      pkts[n++] = port->to_receive.front();
      port->to_receive.pop_front();
    }
    return n;
  }
  static uint16_t Tx(void* self, uint16_t, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakePort*>(self);
    uint16_t n = 0;
    while (n < count && port->sent.size() < port->tx_room) port->sent.push_back(pkts[n++]);
    return n;
  }
  PortIo io() { return PortIo{&Rx, &Tx, this, &offloads}; }

  ~FakePort() {
    for (rte_mbuf* m : to_receive) rte_pktmbuf_free(m);
    for (rte_mbuf* m : sent) rte_pktmbuf_free(m);
  }
};

class ForwardBurstTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    InitTestEal();
    pool_ = MakeTestPool("forward_direct", 4096);
    indirect_ = MakeTestPool("forward_indirect", 4096, 0);
  }
  void SetUp() override { free_ = rte_mempool_avail_count(pool_); }
  void TearDown() override {
    a_.reset();
    b_.reset();
    EXPECT_EQ(rte_mempool_avail_count(pool_), free_) << "an mbuf leaked";
  }

  PollEntry Entry() {
    return PollEntry{a_->io(), 0, b_->io(), 0, &rx_counters_, &tx_counters_};
  }
  uint16_t Forward() { return ForwardBurst(Entry(), OffloadPools{pool_, indirect_}); }

  static rte_mempool* pool_;
  static rte_mempool* indirect_;
  unsigned free_ = 0;
  std::unique_ptr<FakePort> a_ = std::make_unique<FakePort>();
  std::unique_ptr<FakePort> b_ = std::make_unique<FakePort>();
  QueueCounters rx_counters_;
  QueueCounters tx_counters_;
};

rte_mempool* ForwardBurstTest::pool_ = nullptr;
rte_mempool* ForwardBurstTest::indirect_ = nullptr;

TEST_F(ForwardBurstTest, MovesOneBurstAndCountsPacketsAndBytes) {
  for (int i = 0; i < kBurstSize + 5; ++i) a_->to_receive.push_back(TestIpv4Packet(pool_, false, TestPayload(18), false));
  const uint32_t size = rte_pktmbuf_pkt_len(a_->to_receive.front());
  EXPECT_EQ(Forward(), kBurstSize);  // one burst per call, the rest waits
  EXPECT_EQ(b_->sent.size(), kBurstSize);
  EXPECT_EQ(CounterRead(rx_counters_.rx_packets), kBurstSize);
  EXPECT_EQ(CounterRead(rx_counters_.rx_bytes), kBurstSize * size);
  EXPECT_EQ(CounterRead(tx_counters_.tx_packets), kBurstSize);
  EXPECT_EQ(CounterRead(tx_counters_.tx_bytes), kBurstSize * size);
  EXPECT_EQ(Forward(), 5);
  EXPECT_EQ(Forward(), 0);
}

TEST_F(ForwardBurstTest, RefusedPacketsAreFreedAndCountedAsDropped) {
  b_->tx_room = 10;
  for (int i = 0; i < 20; ++i) a_->to_receive.push_back(TestIpv4Packet(pool_, false, TestPayload(18), false));
  EXPECT_EQ(Forward(), 20);
  EXPECT_EQ(CounterRead(tx_counters_.tx_packets), 10u);
  EXPECT_EQ(CounterRead(tx_counters_.tx_dropped), 10u);
}

TEST_F(ForwardBurstTest, PartialChecksumsAreCompletedForAPeerWithoutOffloads) {
  a_->to_receive.push_back(TestIpv4Packet(pool_, true, TestPayload(500), false));  // already complete
  a_->to_receive.push_back(TestIpv4Packet(pool_, true, TestPayload(500)));         // partial
  EXPECT_EQ(Forward(), 2);
  ASSERT_EQ(b_->sent.size(), 2u);
  EXPECT_TRUE(TestL4ChecksumOk(b_->sent[0], true));
  EXPECT_TRUE(TestL4ChecksumOk(b_->sent[1], true));
}

TEST_F(ForwardBurstTest, PartialChecksumsAreFlaggedForAPeerThatTakesThem) {
  b_->offloads.store(kTxOffloadChecksum);
  a_->to_receive.push_back(TestIpv4Packet(pool_, true, TestPayload(500)));
  EXPECT_EQ(Forward(), 1);
  ASSERT_EQ(b_->sent.size(), 1u);
  EXPECT_EQ(b_->sent[0]->ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_TCP_CKSUM);
}

TEST_F(ForwardBurstTest, LargeFramesAreSegmentedAndEachSegmentIsCounted) {
  // A full burst of 64 KiB TSO frames becomes more segments than one output array holds
  // at once: every frame must still arrive whole, in order.
  for (int i = 0; i < kBurstSize; ++i) a_->to_receive.push_back(TestLargeTcp4Frame(pool_, 60000, 1448));
  EXPECT_EQ(Forward(), kBurstSize);
  const size_t per_frame = (60000 + 1447) / 1448;
  EXPECT_EQ(b_->sent.size(), kBurstSize * per_frame);
  EXPECT_EQ(CounterRead(tx_counters_.tx_packets), kBurstSize * per_frame);
  EXPECT_EQ(CounterRead(tx_counters_.tx_dropped), 0u);
  for (rte_mbuf* seg : b_->sent) {
    ASSERT_TRUE(TestIpv4HeaderChecksumOk(seg));
    ASSERT_TRUE(TestL4ChecksumOk(seg, true));
  }
}

TEST_F(ForwardBurstTest, RefusedSegmentsAreFreedAndCounted) {
  b_->tx_room = 3;
  a_->to_receive.push_back(TestLargeTcp4Frame(pool_, 10000, 1000));
  EXPECT_EQ(Forward(), 1);
  EXPECT_EQ(CounterRead(tx_counters_.tx_packets), 3u);
  EXPECT_EQ(CounterRead(tx_counters_.tx_dropped), 7u);
}

TEST_F(ForwardBurstTest, SegmentsTheRingCannotTakeWaitInTheBacklogInOrder) {
  TxBacklog backlog;
  PollEntry e = Entry();
  e.backlog = &backlog;
  const OffloadPools pools{pool_, indirect_};
  b_->tx_room = 3;
  a_->to_receive.push_back(TestLargeTcp4Frame(pool_, 10000, 1000));
  a_->to_receive.push_back(TestIpv4Packet(pool_, false, TestPayload(18), false));
  EXPECT_EQ(ForwardBurst(e, pools), 2);
  EXPECT_EQ(b_->sent.size(), 3u);
  EXPECT_EQ(backlog.count, 8) << "7 segments and the packet behind them wait";
  EXPECT_EQ(CounterRead(tx_counters_.tx_dropped), 0u);

  a_->to_receive.push_back(TestIpv4Packet(pool_, false, TestPayload(18), false));
  EXPECT_EQ(ForwardBurst(e, pools), 0) << "back-pressure: nothing is received while the backlog waits";
  EXPECT_EQ(a_->to_receive.size(), 1u);

  b_->tx_room = SIZE_MAX;  // the guest consumed its ring
  EXPECT_EQ(ForwardBurst(e, pools), 1);
  EXPECT_EQ(backlog.count, 0);
  ASSERT_EQ(b_->sent.size(), 12u);
  for (size_t i = 0; i < 10; ++i) {  // the segments, in sequence order
    auto* th = rte_pktmbuf_mtod_offset(b_->sent[i], rte_tcp_hdr*, kEth + kIp4);
    EXPECT_EQ(rte_be_to_cpu_32(th->sent_seq), kFirstSeq + 1000 * i);
  }
  EXPECT_EQ(CounterRead(tx_counters_.tx_packets), 12u);
}

TEST_F(ForwardBurstTest, ABacklogThatNeverDrainsIsDroppedAndCounted) {
  auto backlog = std::make_unique<TxBacklog>();
  PollEntry e = Entry();
  e.backlog = backlog.get();
  const OffloadPools pools{pool_, indirect_};
  b_->tx_room = 0;  // a hung guest
  a_->to_receive.push_back(TestLargeTcp4Frame(pool_, 10000, 1000));
  EXPECT_EQ(ForwardBurst(e, pools), 1);
  EXPECT_EQ(backlog->count, 10);
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (backlog->count != 0 && absl::Now() < deadline) ForwardBurst(e, pools);
  EXPECT_EQ(backlog->count, 0);
  EXPECT_EQ(CounterRead(tx_counters_.tx_dropped), 10u) << "dropped once the ring took nothing for 1 s";
}

TEST_F(ForwardBurstTest, ABacklogFreesWhatItHoldsWithItsProgram) {
  auto backlog = std::make_unique<TxBacklog>();
  PollEntry e = Entry();
  e.backlog = backlog.get();
  b_->tx_room = 0;
  a_->to_receive.push_back(TestLargeTcp4Frame(pool_, 10000, 1000));
  ForwardBurst(e, OffloadPools{pool_, indirect_});
  EXPECT_EQ(backlog->count, 10);
  backlog.reset();  // TearDown checks that every mbuf went back to the pool
}

}  // namespace
}  // namespace vhostd
