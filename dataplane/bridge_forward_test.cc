// Forwarding decisions of a bridge on real mbufs: learning, flooding, no hair-pinning,
// moves, a full table, VLAN access/trunk rules and tag edits, and that shared and
// copied frames are freed exactly once (the pool is full again after every test).
#include "dataplane/bridge_forward.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/test_eal.h"
#include "dataplane/test_packets.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

constexpr MacAddress kMacA = 0x02'00'00'00'00'0a;
constexpr MacAddress kMacB = 0x02'00'00'00'00'0b;
constexpr MacAddress kMacC = 0x02'00'00'00'00'0c;
constexpr MacAddress kBroadcast = 0xff'ff'ff'ff'ff'ff;
constexpr MacAddress kMulticast = 0x01'00'5e'00'00'01;

// A bridge port: what it receives is queued by the test; what it sends is kept.
struct FakeBridgePort {
  std::deque<rte_mbuf*> to_receive;
  std::vector<rte_mbuf*> sent;
  std::atomic<uint32_t> offloads{0};
  QueueCounters counters[2];

  static uint16_t Rx(void* self, uint16_t, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakeBridgePort*>(self);
    uint16_t n = 0;
    for (; n < count && !port->to_receive.empty(); ++n) {
      pkts[n] = port->to_receive.front();
      port->to_receive.pop_front();
    }
    return n;
  }
  static uint16_t Tx(void* self, uint16_t, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakeBridgePort*>(self);
    port->sent.insert(port->sent.end(), pkts, pkts + count);
    return count;
  }
  PortIo io() { return PortIo{&Rx, &Tx, this, &offloads}; }
  void Clear() {
    for (rte_mbuf* m : sent) rte_pktmbuf_free(m);
    sent.clear();
  }
  ~FakeBridgePort() {
    for (rte_mbuf* m : to_receive) rte_pktmbuf_free(m);
    Clear();
  }
};

void PutMac(MacAddress mac, rte_ether_addr* out) {
  for (int i = 5; i >= 0; --i, mac >>= 8) out->addr_bytes[i] = static_cast<uint8_t>(mac);
}

MacAddress GetMac(const rte_ether_addr& a) {
  MacAddress mac = 0;
  for (uint8_t b : a.addr_bytes) mac = mac << 8 | b;
  return mac;
}

// The VLAN of a sent frame's tag, or 0 if untagged.
uint16_t TagOf(rte_mbuf* m) {
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) return 0;
  return rte_be_to_cpu_16(reinterpret_cast<const rte_vlan_hdr*>(eth + 1)->vlan_tci) & 0xfff;
}

class BridgeForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    InitTestEal();
    pool_ = MakeTestPool("bridge_direct", 4096);
  }
  void SetUp() override {
    free_ = rte_mempool_avail_count(pool_);
    bridge_.name = "br0";
    bridge_.macs = std::make_shared<MacTable>(64, 300'000);
    bridge_.tsc_per_ms = rte_get_tsc_hz() / 1000;
    for (auto& port : ports_) port = std::make_unique<FakeBridgePort>();
    for (size_t i = 0; i < ports_.size(); ++i) AddMember(i, VlanRule{});
  }
  void TearDown() override {
    for (auto& port : ports_) port.reset();
    EXPECT_EQ(rte_mempool_avail_count(pool_), free_) << "an mbuf leaked or was freed twice";
  }

  void AddMember(size_t slot, const VlanRule& vlan) {
    if (bridge_.members.size() <= slot) bridge_.members.resize(slot + 1);
    BridgeMember& m = bridge_.members[slot];
    m.name = "p" + std::to_string(slot);
    m.io = ports_[slot]->io();
    m.queues = 1;
    m.counters = ports_[slot]->counters;
    m.vlan = vlan;
    m.stats = NewBridgePortCounters();
  }
  static VlanRule Access(uint16_t vlan) {
    VlanRule rule;
    rule.mode = VlanMode::kAccess;
    rule.access_vlan = vlan;
    return rule;
  }
  static VlanRule Trunk(std::vector<uint16_t> vlans) {
    VlanRule rule;
    rule.mode = VlanMode::kTrunk;
    for (uint16_t v : vlans) rule.Allow(v);
    return rule;
  }

  // A frame from `src` to `dst` (tagged with `vlan` unless 0) with a 46-byte payload.
  rte_mbuf* Frame(MacAddress dst, MacAddress src, uint16_t vlan = 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, sizeof(rte_ether_hdr)));
    PutMac(dst, &eth->dst_addr);
    PutMac(src, &eth->src_addr);
    if (vlan != 0) {
      eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
      auto* tag = reinterpret_cast<rte_vlan_hdr*>(rte_pktmbuf_append(m, sizeof(rte_vlan_hdr)));
      tag->vlan_tci = rte_cpu_to_be_16(vlan);
      tag->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    } else {
      eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    }
    memset(rte_pktmbuf_append(m, 46), 0x5a, 46);
    return m;
  }

  // Port `slot` receives `m`; the bridge forwards it.
  void Receive(size_t slot, rte_mbuf* m) {
    ports_[slot]->to_receive.push_back(m);
    PollEntry entry{ports_[slot]->io(), 0, ports_[slot]->io(), 0, &ports_[slot]->counters[0],
                    &ports_[slot]->counters[0]};
    entry.bridge = &bridge_;
    entry.bridge_slot = static_cast<uint16_t>(slot);
    EXPECT_EQ(BridgeBurst(entry, OffloadPools{pool_, nullptr}), 1);
  }
  // Port `slot` receives `frames` in one burst (at most 32); the bridge forwards them.
  void ReceiveBurst(size_t slot, const std::vector<rte_mbuf*>& frames) {
    for (rte_mbuf* m : frames) ports_[slot]->to_receive.push_back(m);
    PollEntry entry{ports_[slot]->io(), 0, ports_[slot]->io(), 0, &ports_[slot]->counters[0],
                    &ports_[slot]->counters[0]};
    entry.bridge = &bridge_;
    entry.bridge_slot = static_cast<uint16_t>(slot);
    EXPECT_EQ(BridgeBurst(entry, OffloadPools{pool_, nullptr}), frames.size());
  }
  // The destination addresses of what port `slot` sent, in order.
  std::vector<MacAddress> SentTo(size_t slot) const {
    std::vector<MacAddress> macs;
    for (rte_mbuf* m : ports_[slot]->sent) macs.push_back(GetMac(rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr));
    return macs;
  }
  std::vector<size_t> SentCounts() const {
    std::vector<size_t> counts;
    for (const auto& port : ports_) counts.push_back(port->sent.size());
    return counts;
  }
  void ClearSent() {
    for (auto& port : ports_) port->Clear();
  }
  BridgePortTotals Totals(size_t slot) const { return SumLanes(bridge_.members[slot].stats.get()); }

  static rte_mempool* pool_;
  unsigned free_ = 0;
  std::vector<std::unique_ptr<FakeBridgePort>> ports_ = std::vector<std::unique_ptr<FakeBridgePort>>(3);
  BridgeView bridge_;
};

rte_mempool* BridgeForwardTest::pool_ = nullptr;

TEST_F(BridgeForwardTest, UnknownUnicastFloodsThenLearnedAddressesGoDirect) {
  Receive(0, Frame(kMacB, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 1})) << "flooded to the others, not back";
  EXPECT_EQ(Totals(0).flooded, 1u);
  EXPECT_EQ(Totals(0).learned, 1u);
  ClearSent();
  Receive(1, Frame(kMacA, kMacB));  // A is known: straight to port 0
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{1, 0, 0}));
  EXPECT_EQ(Totals(1).flooded, 0u);
  EXPECT_EQ(Totals(1).learned, 1u);
  ClearSent();
  Receive(0, Frame(kMacB, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 0}));
  EXPECT_EQ(Totals(0).learned, 1u) << "a known address is not learned again";
  EXPECT_EQ(CounterRead(ports_[1]->counters[0].tx_packets), 2u);
  EXPECT_EQ(CounterRead(ports_[0]->counters[0].rx_packets), 2u);
  EXPECT_EQ(GetMac(rte_pktmbuf_mtod(ports_[1]->sent[0], rte_ether_hdr*)->src_addr), kMacA);
}

TEST_F(BridgeForwardTest, BroadcastAndMulticastFloodEvenWhenSourcesAreKnown) {
  Receive(1, Frame(kMacA, kMacB));
  Receive(2, Frame(kMacA, kMacC));
  ClearSent();
  Receive(0, Frame(kBroadcast, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 1}));
  Receive(0, Frame(kMulticast, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 2, 2}));
  EXPECT_EQ(Totals(0).flooded, 2u);
  // One frame, shared: both ports hold the same buffer, which is freed once by each.
  EXPECT_EQ(ports_[1]->sent[0], ports_[2]->sent[0]);
  EXPECT_EQ(rte_mbuf_refcnt_read(ports_[1]->sent[0]), 2);
}

TEST_F(BridgeForwardTest, MulticastSourceIsNeverLearned) {
  Receive(0, Frame(kBroadcast, kMulticast));
  EXPECT_EQ(Totals(0).learned, 0u);
  EXPECT_EQ(bridge_.macs->occupied(), 0u);
}

TEST_F(BridgeForwardTest, NoHairPinning) {
  Receive(0, Frame(kBroadcast, kMacB));  // B is behind port 0
  ClearSent();
  Receive(0, Frame(kMacB, kMacA));  // A, also on port 0, talks to B
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(Totals(0).flooded, 1u);
}

TEST_F(BridgeForwardTest, AddressMovesToAnotherPort) {
  Receive(1, Frame(kBroadcast, kMacB));
  ClearSent();
  Receive(0, Frame(kMacB, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 0}));
  Receive(2, Frame(kBroadcast, kMacB));  // B moved behind port 2
  EXPECT_EQ(Totals(2).learned, 1u);
  ClearSent();
  Receive(0, Frame(kMacB, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 0, 1}));
}

TEST_F(BridgeForwardTest, FullTableFloodsAndCounts) {
  bridge_.macs = std::make_shared<MacTable>(1, 300'000);
  Receive(0, Frame(kBroadcast, kMacA));
  Receive(1, Frame(kBroadcast, kMacB));  // no room for B
  EXPECT_EQ(Totals(1).table_full, 1u);
  EXPECT_EQ(Totals(1).learned, 0u);
  ClearSent();
  Receive(0, Frame(kMacB, kMacA));  // B unknown: flooded
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 1}));
  EXPECT_EQ(Totals(0).flooded, 2u);
}

TEST_F(BridgeForwardTest, AccessVlansAreIsolatedAndTrunkCarriesBothTagged) {
  AddMember(0, Access(10));
  AddMember(1, Access(20));
  AddMember(2, Trunk({10, 20}));
  Receive(0, Frame(kBroadcast, kMacA));
  ASSERT_EQ(SentCounts(), (std::vector<size_t>{0, 0, 1})) << "VLAN 10 does not reach the VLAN 20 port";
  EXPECT_EQ(TagOf(ports_[2]->sent[0]), 10);
  EXPECT_EQ(rte_pktmbuf_pkt_len(ports_[2]->sent[0]), 14u + 4 + 46);
  ClearSent();
  Receive(2, Frame(kBroadcast, kMacC, 20));
  ASSERT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 0}));
  EXPECT_EQ(TagOf(ports_[1]->sent[0]), 0) << "the access port gets it untagged";
  EXPECT_EQ(rte_pktmbuf_pkt_len(ports_[1]->sent[0]), 14u + 46);
  EXPECT_EQ(rte_pktmbuf_mtod(ports_[1]->sent[0], rte_ether_hdr*)->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
  ClearSent();
  // Learned per VLAN: A is known on VLAN 10 only.
  Receive(2, Frame(kMacA, kMacC, 10));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{1, 0, 0}));
  ClearSent();
  Receive(2, Frame(kMacA, kMacC, 20));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 0})) << "unknown on VLAN 20: flooded there";
}

TEST_F(BridgeForwardTest, VlanRulesDropWhatTheyRefuse) {
  AddMember(0, Access(10));
  AddMember(1, Trunk({10}));
  Receive(0, Frame(kBroadcast, kMacA, 10));  // tagged on an access port
  Receive(1, Frame(kBroadcast, kMacB));      // untagged on a trunk
  Receive(1, Frame(kBroadcast, kMacB, 30));  // a VLAN the trunk does not allow
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(Totals(0).vlan_dropped, 1u);
  EXPECT_EQ(Totals(1).vlan_dropped, 2u);
  EXPECT_EQ(bridge_.macs->occupied(), 0u) << "refused frames teach nothing";
}

TEST_F(BridgeForwardTest, FloodToMixedTagFormsSharesOneCopyPerForm) {
  ports_.push_back(std::make_unique<FakeBridgePort>());
  ports_.push_back(std::make_unique<FakeBridgePort>());
  AddMember(0, Access(10));
  AddMember(1, Access(10));
  AddMember(2, Trunk({10}));
  AddMember(3, Trunk({10, 11}));
  AddMember(4, VlanRule{});  // no VLAN rule: VLAN 10 goes out tagged
  Receive(0, Frame(kBroadcast, kMacA));
  ASSERT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 1, 1, 1}));
  rte_mbuf* untagged = ports_[1]->sent[0];
  rte_mbuf* tagged = ports_[2]->sent[0];
  EXPECT_NE(untagged, tagged);
  EXPECT_EQ(ports_[3]->sent[0], tagged);
  EXPECT_EQ(ports_[4]->sent[0], tagged);
  EXPECT_EQ(rte_mbuf_refcnt_read(tagged), 3);
  EXPECT_EQ(TagOf(untagged), 0) << "the original was not edited for the trunk";
  EXPECT_EQ(TagOf(tagged), 10);
  EXPECT_EQ(TestBytes(untagged, 14), TestBytes(tagged, 18)) << "same payload";
}

TEST_F(BridgeForwardTest, FramesWithPendingOffloadsAreCopiedNotShared) {
  rte_mbuf* m = TestIpv4Packet(pool_, /*tcp=*/false, TestPayload(200), /*partial=*/true);
  PutMac(kBroadcast, &rte_pktmbuf_mtod(m, rte_ether_hdr*)->dst_addr);
  PutMac(kMacA, &rte_pktmbuf_mtod(m, rte_ether_hdr*)->src_addr);
  Receive(0, m);
  ASSERT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 1}));
  EXPECT_NE(ports_[1]->sent[0], ports_[2]->sent[0]);
  for (size_t p : {1, 2}) {
    EXPECT_EQ(rte_mbuf_refcnt_read(ports_[p]->sent[0]), 1);
    EXPECT_TRUE(TestL4ChecksumOk(ports_[p]->sent[0], true)) << "port " << p << ": completed in software";
  }
}

// A burst remembers the last source it learned and the last destination it decided;
// these check that what it remembers never changes where a frame goes.
TEST_F(BridgeForwardTest, BurstOfOneFlowGoesDirectAndLearnsOnce) {
  Receive(1, Frame(kBroadcast, kMacB));
  ClearSent();
  std::vector<rte_mbuf*> burst;
  for (int i = 0; i < 32; ++i) burst.push_back(Frame(kMacB, kMacA));
  ReceiveBurst(0, burst);
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 32, 0}));
  EXPECT_EQ(Totals(0).learned, 1u);
  EXPECT_EQ(Totals(0).flooded, 0u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(ports_[1]->sent[i], burst[i]) << "frame " << i << " in order";
}

TEST_F(BridgeForwardTest, BurstOfMixedFlowsSendsEachFrameWhereItBelongs) {
  Receive(1, Frame(kBroadcast, kMacB));
  Receive(2, Frame(kBroadcast, kMacC));
  ClearSent();
  const MacAddress kUnknown = 0x02'00'00'00'00'99;
  ReceiveBurst(0, {Frame(kMacB, kMacA), Frame(kMacB, kMacA), Frame(kMacC, kMacA), Frame(kBroadcast, kMacA),
                   Frame(kMacB, kMacA), Frame(kUnknown, kMacA), Frame(kMacC, kMacA)});
  EXPECT_EQ(SentTo(1), (std::vector<MacAddress>{kMacB, kMacB, kBroadcast, kMacB, kUnknown}));
  EXPECT_EQ(SentTo(2), (std::vector<MacAddress>{kMacC, kBroadcast, kUnknown, kMacC}));
  EXPECT_EQ(Totals(0).flooded, 2u);
}

TEST_F(BridgeForwardTest, AddressLearnedMidBurstIsDecidedAgain) {
  const MacAddress kMacD = 0x02'00'00'00'00'0d;
  Receive(1, Frame(kBroadcast, kMacD));  // D behind port 1
  ClearSent();
  // D to port 1, then D shows up behind port 0 (moved), then frames for D from port
  // 0 must stay there (no hair-pinning), not follow the decision made before the move.
  ReceiveBurst(0, {Frame(kMacD, kMacA), Frame(kBroadcast, kMacD), Frame(kMacD, kMacA), Frame(kMacD, kMacA)});
  EXPECT_EQ(SentTo(1), (std::vector<MacAddress>{kMacD, kBroadcast}));
  EXPECT_EQ(SentTo(2), (std::vector<MacAddress>{kBroadcast}));
  EXPECT_EQ(Totals(0).learned, 2u) << "A new, D moved";
}

TEST_F(BridgeForwardTest, FullTableCountsEveryFrameOfABurst) {
  bridge_.macs = std::make_shared<MacTable>(1, 300'000);
  Receive(1, Frame(kBroadcast, kMacB));
  ReceiveBurst(0, {Frame(kMacB, kMacA), Frame(kMacB, kMacA), Frame(kMacB, kMacA)});
  EXPECT_EQ(Totals(0).table_full, 3u);
  EXPECT_EQ(SentTo(1), (std::vector<MacAddress>{kMacB, kMacB, kMacB})) << "B is known";
}

TEST_F(BridgeForwardTest, BurstAcrossVlansKeepsThemApart) {
  bridge_.members[0].vlan = Trunk({10, 20});
  bridge_.members[1].vlan = Access(10);
  bridge_.members[2].vlan = Access(20);
  Receive(1, Frame(kBroadcast, kMacB));
  Receive(2, Frame(kBroadcast, kMacB));  // the same address on the other VLAN
  ClearSent();
  ReceiveBurst(0, {Frame(kMacB, kMacA, 10), Frame(kMacB, kMacA, 20), Frame(kMacB, kMacA, 10)});
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 2, 1}));
  for (rte_mbuf* m : ports_[1]->sent) EXPECT_EQ(TagOf(m), 0) << "access ports get frames untagged";
  EXPECT_EQ(Totals(0).learned, 2u) << "A on VLAN 10 and on VLAN 20";
}

TEST_F(BridgeForwardTest, PortsWithoutQueuesGetNothing) {
  bridge_.members[2].queues = 0;  // its frontend is not connected
  Receive(0, Frame(kBroadcast, kMacA));
  EXPECT_EQ(SentCounts(), (std::vector<size_t>{0, 1, 0}));
}

}  // namespace
}  // namespace vhostd
