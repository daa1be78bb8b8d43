#include "dataplane/offload.h"

#include <rte_config.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/test_eal.h"
#include "dataplane/test_packets.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {


class OffloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    InitTestEal();
    pool_ = MakeTestPool("offload_direct", 4096);
    indirect_ = MakeTestPool("offload_indirect", 4096, 0);
  }

  void SetUp() override {
    free_direct_ = rte_mempool_avail_count(pool_);
    free_indirect_ = rte_mempool_avail_count(indirect_);
  }

  // Every test frees what it got back: no mbuf may leak from any path.
  void TearDown() override {
    EXPECT_EQ(rte_mempool_avail_count(pool_), free_direct_);
    EXPECT_EQ(rte_mempool_avail_count(indirect_), free_indirect_);
  }

  OffloadPools pools() const { return {pool_, indirect_}; }
  static rte_mbuf* Ipv4Packet(bool tcp, const std::string& payload, bool partial = true) {
    return TestIpv4Packet(pool_, tcp, payload, partial);
  }
  static rte_mbuf* Ipv6Packet(bool tcp, const std::string& payload) { return TestIpv6Packet(pool_, tcp, payload); }
  static rte_mbuf* LargeTcp4Frame(size_t payload, uint16_t mss) { return TestLargeTcp4Frame(pool_, payload, mss); }

  OffloadResult Prepare(std::vector<rte_mbuf*> in, uint32_t tx_offloads, std::vector<rte_mbuf*>* out,
                        uint16_t room = 256) {
    out->assign(room, nullptr);
    OffloadResult r = PrepareForTransmit(in.data(), static_cast<uint16_t>(in.size()), tx_offloads, pools(),
                                         out->data(), room);
    out->resize(r.out);
    return r;
  }

  static void FreeAll(const std::vector<rte_mbuf*>& pkts) {
    for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
  }

  static rte_mempool* pool_;
  static rte_mempool* indirect_;
  unsigned free_direct_ = 0;
  unsigned free_indirect_ = 0;
};

rte_mempool* OffloadTest::pool_ = nullptr;
rte_mempool* OffloadTest::indirect_ = nullptr;

TEST_F(OffloadTest, FeatureBitsMapToOffloads) {
  EXPECT_EQ(TxOffloadsFromVirtioFeatures(0), 0u);
  EXPECT_EQ(TxOffloadsFromVirtioFeatures(1ull << 1), kTxOffloadChecksum);
  EXPECT_EQ(TxOffloadsFromVirtioFeatures((1ull << 1) | (1ull << 7) | (1ull << 8)),
            kTxOffloadChecksum | kTxOffloadTso4 | kTxOffloadTso6);
  // GUEST_TSO without GUEST_CSUM is not a valid negotiation: take nothing on trust.
  EXPECT_EQ(TxOffloadsFromVirtioFeatures(1ull << 7), 0u);
}

TEST_F(OffloadTest, FullyFormedPacketsPassUntouched) {
  rte_mbuf* m = Ipv4Packet(true, TestPayload(100), /*partial=*/false);
  EXPECT_FALSE(AnyPendingOffload(&m, 1));
  const std::string before = TestBytes(m, 0);
  std::vector<rte_mbuf*> out;
  OffloadResult r = Prepare({m}, 0, &out);
  ASSERT_EQ(r.out, 1);
  EXPECT_EQ(out[0], m);
  EXPECT_EQ(TestBytes(m, 0), before);
  FreeAll(out);
}

TEST_F(OffloadTest, PartialTcp4ChecksumIsCompletedForAPeerWithoutChecksumOffload) {
  rte_mbuf* m = Ipv4Packet(true, TestPayload(1000));
  EXPECT_TRUE(AnyPendingOffload(&m, 1));
  EXPECT_FALSE(TestL4ChecksumOk(m, true));  // as the guest sent it
  std::vector<rte_mbuf*> out;
  OffloadResult r = Prepare({m}, 0, &out);
  ASSERT_EQ(r.out, 1);
  EXPECT_EQ(r.dropped, 0);
  EXPECT_TRUE(TestL4ChecksumOk(out[0], true));
  EXPECT_FALSE(AnyPendingOffload(out.data(), 1));
  FreeAll(out);
}

TEST_F(OffloadTest, PartialChecksumIsFlaggedForAPeerWithChecksumOffload) {
  rte_mbuf* m = Ipv4Packet(true, TestPayload(1000));
  const std::string before = TestBytes(m, 0);
  std::vector<rte_mbuf*> out;
  Prepare({m}, kTxOffloadChecksum, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(TestBytes(out[0], 0), before);  // no software cost: the peer completes it
  EXPECT_EQ(out[0]->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IPV4),
            RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4);
  EXPECT_EQ(out[0]->l2_len, kEth);
  EXPECT_EQ(out[0]->l3_len, kIp4);
  FreeAll(out);
}

TEST_F(OffloadTest, PartialUdp4AndUdp6AndTcp6ChecksumsAreCompleted) {
  std::vector<rte_mbuf*> out;
  Prepare({Ipv4Packet(false, TestPayload(300)), Ipv6Packet(false, TestPayload(300)), Ipv6Packet(true, TestPayload(700))}, 0,
          &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(TestL4ChecksumOk(out[0], true));
  EXPECT_TRUE(TestL4ChecksumOk(out[1], false));
  EXPECT_TRUE(TestL4ChecksumOk(out[2], false));
  FreeAll(out);
}

TEST_F(OffloadTest, ChainedPacketChecksumCoversEverySegment) {
  rte_mbuf* m = Ipv4Packet(true, TestPayload(8000));  // a jumbo frame over several mbufs
  ASSERT_GT(m->nb_segs, 1);
  std::vector<rte_mbuf*> out;
  Prepare({m}, 0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(TestL4ChecksumOk(out[0], true));
  FreeAll(out);
}

TEST_F(OffloadTest, LargeFrameIsSegmentedForAPeerWithoutTso) {
  constexpr uint16_t kMss = 1000;
  const std::string payload = TestPayload(4500);
  rte_mbuf* m = LargeTcp4Frame(payload.size(), kMss);
  std::vector<rte_mbuf*> out;
  OffloadResult r = Prepare({m}, 0, &out);
  ASSERT_EQ(r.out, 5);
  std::string joined;
  for (size_t i = 0; i < out.size(); ++i) {
    rte_mbuf* seg = out[i];
    SCOPED_TRACE(i);
    EXPECT_LE(rte_pktmbuf_pkt_len(seg), kEth + kIp4 + kTcp + kMss);
    EXPECT_TRUE(TestIpv4HeaderChecksumOk(seg));
    EXPECT_TRUE(TestL4ChecksumOk(seg, true));
    EXPECT_EQ(seg->ol_flags & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK), 0u);
    auto* th = rte_pktmbuf_mtod_offset(seg, rte_tcp_hdr*, kEth + kIp4);
    EXPECT_EQ(rte_be_to_cpu_32(th->sent_seq), kFirstSeq + joined.size());
    EXPECT_EQ((th->tcp_flags & RTE_TCP_PSH_FLAG) != 0, i == out.size() - 1);  // PSH only on the last
    joined += TestBytes(seg, kEth + kIp4 + kTcp);
  }
  EXPECT_EQ(joined, payload);
  FreeAll(out);
}

TEST_F(OffloadTest, SegmentsAreFlaggedForAPeerWithChecksumButNoTso) {
  std::vector<rte_mbuf*> out;
  Prepare({LargeTcp4Frame(3000, 1400)}, kTxOffloadChecksum, &out);
  ASSERT_EQ(out.size(), 3u);
  for (rte_mbuf* seg : out) {
    EXPECT_TRUE(TestIpv4HeaderChecksumOk(seg));
    EXPECT_EQ(seg->ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_TCP_CKSUM);
  }
  FreeAll(out);
}

TEST_F(OffloadTest, LargeFramePassesWholeToATsoPeer) {
  rte_mbuf* m = LargeTcp4Frame(4500, 1000);
  std::vector<rte_mbuf*> out;
  Prepare({m}, kTxOffloadChecksum | kTxOffloadTso4, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], m);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4), RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4);
  EXPECT_EQ(m->l4_len, kTcp);
  EXPECT_EQ(m->tso_segsz, 1000);
  FreeAll(out);
}

TEST_F(OffloadTest, FramesThatCannotBeMadeCorrectAreDroppedAndFreed) {
  rte_mbuf* large6 = Ipv6Packet(true, TestPayload(4000));  // librte_gso has no TCP/IPv6
  large6->ol_flags |= RTE_MBUF_F_RX_LRO;
  large6->tso_segsz = 1000;
  rte_mbuf* truncated = Ipv4Packet(true, TestPayload(10));
  rte_pktmbuf_trim(truncated, rte_pktmbuf_pkt_len(truncated) - kEth - 10);  // IP header cut short
  rte_mbuf* fine = Ipv4Packet(true, TestPayload(10));
  std::vector<rte_mbuf*> out;
  OffloadResult r = Prepare({large6, truncated, fine}, kTxOffloadChecksum | kTxOffloadTso4, &out);
  EXPECT_EQ(r.consumed, 3);
  EXPECT_EQ(r.dropped, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], fine);
  FreeAll(out);
}

TEST_F(OffloadTest, StopsBeforeAFrameThatMightNotFitAndResumes) {
  std::vector<rte_mbuf*> in = {LargeTcp4Frame(4500, 1000), LargeTcp4Frame(4500, 1000)};
  std::vector<rte_mbuf*> out;
  OffloadResult r = Prepare(in, 0, &out, kMaxSegmentsPerFrame);
  EXPECT_EQ(r.consumed, 1);
  EXPECT_EQ(r.out, 5);
  FreeAll(out);
  r = Prepare({in[1]}, 0, &out, kMaxSegmentsPerFrame);
  EXPECT_EQ(r.consumed, 1);
  EXPECT_EQ(r.out, 5);
  FreeAll(out);
}

}  // namespace
}  // namespace vhostd
