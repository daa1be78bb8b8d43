#include "dataplane/bridge_plan.h"

#include <map>
#include <set>
#include <utility>

#include "gtest/gtest.h"

namespace vhostd {
namespace {

// Members with `queues` each (0: not taking traffic); contexts tell ports apart.
struct TestBridge {
  explicit TestBridge(std::vector<uint16_t> queues) {
    view.name = "br0";
    for (size_t i = 0; i < queues.size(); ++i) {
      counters.emplace_back(new QueueCounters[16]);
      BridgeMember m;
      m.name = "p" + std::to_string(i);
      m.io.context = reinterpret_cast<void*>(i + 1);
      m.queues = queues[i];
      m.counters = counters.back().get();
      m.stats = NewBridgePortCounters();
      view.members.push_back(m);
    }
  }
  std::vector<std::unique_ptr<QueueCounters[]>> counters;
  BridgeView view;
};

// Every transmit queue any entry of a unit may write: (port slot, queue).
std::set<std::pair<size_t, uint16_t>> Writes(const ForwardingUnit& unit, const BridgeView& view) {
  std::set<std::pair<size_t, uint16_t>> writes;
  for (const PollEntry& e : unit.entries) {
    for (size_t dst = 0; dst < view.members.size(); ++dst) {
      if (dst != e.bridge_slot && view.members[dst].queues) writes.insert({dst, e.rx_queue % view.members[dst].queues});
    }
  }
  return writes;
}

void ExpectSingleWriter(const std::vector<ForwardingUnit>& units, const BridgeView& view) {
  std::map<std::pair<size_t, uint16_t>, size_t> writer;
  for (size_t u = 0; u < units.size(); ++u) {
    for (const auto& queue : Writes(units[u], view)) {
      auto [it, first] = writer.emplace(queue, u);
      EXPECT_TRUE(first || it->second == u) << "tx queue " << queue.second << " of port " << queue.first
                                            << " written by units " << it->second << " and " << u;
    }
  }
}

TEST(BridgePlanTest, SingleQueuePortsMakeOneUnit) {
  TestBridge b({1, 1, 1});
  std::vector<ForwardingUnit> units = BridgeUnits(b.view);
  ASSERT_EQ(units.size(), 1u);
  ASSERT_EQ(units[0].entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(units[0].entries[i].bridge, &b.view);
    EXPECT_EQ(units[0].entries[i].bridge_slot, i);
    EXPECT_EQ(units[0].labels[i].rx_port, "p" + std::to_string(i));
    EXPECT_EQ(units[0].labels[i].tx_port, "bridge:br0");
  }
}

TEST(BridgePlanTest, EqualQueueCountsMakeOneUnitPerQueueIndex) {
  TestBridge b({4, 4, 4});
  std::vector<ForwardingUnit> units = BridgeUnits(b.view);
  ASSERT_EQ(units.size(), 4u);
  for (const ForwardingUnit& unit : units) {
    ASSERT_EQ(unit.entries.size(), 3u);
    for (const PollEntry& e : unit.entries) EXPECT_EQ(e.rx_queue, unit.entries[0].rx_queue);
  }
  ExpectSingleWriter(units, b.view);
}

TEST(BridgePlanTest, MixedQueueCountsKeepOneWriterPerQueue) {
  for (std::vector<uint16_t> queues : std::vector<std::vector<uint16_t>>{{2, 3}, {4, 2, 1}, {6, 4}, {8, 8, 2}}) {
    TestBridge b(queues);
    std::vector<ForwardingUnit> units = BridgeUnits(b.view);
    size_t entries = 0;
    for (const ForwardingUnit& unit : units) entries += unit.entries.size();
    size_t expected = 0;
    for (uint16_t q : queues) expected += q;
    EXPECT_EQ(entries, expected) << "every receive queue is polled";
    ExpectSingleWriter(units, b.view);
  }
  TestBridge b({8, 8, 2});
  EXPECT_EQ(BridgeUnits(b.view).size(), 2u) << "queue index mod 2";
}

TEST(BridgePlanTest, PortsWithoutQueuesOrFreeSlotsAreNotPolled) {
  TestBridge b({1, 0, 1});
  b.view.members.push_back(BridgeMember{});  // a free slot
  std::vector<ForwardingUnit> units = BridgeUnits(b.view);
  ASSERT_EQ(units.size(), 1u);
  ASSERT_EQ(units[0].entries.size(), 2u);
  EXPECT_EQ(units[0].entries[1].bridge_slot, 2);
}

}  // namespace
}  // namespace vhostd
