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

// What every entry of `programs` may write, (slot, queue) -> per core: whether under
// the lock. Also checks each entry's lanes exist.
using Writes = std::map<std::pair<size_t, uint16_t>, std::map<size_t, bool>>;
Writes WritesOf(const std::vector<CoreProgram>& programs, const BridgeView& view) {
  Writes writes;
  for (size_t core = 0; core < programs.size(); ++core) {
    for (const PollEntry& e : programs[core].entries) {
      EXPECT_NE(e.bridge_lanes, nullptr) << "AssignToCores gives bridge entries their lanes";
      if (e.bridge_lanes == nullptr) continue;
      for (size_t dst = 0; dst < view.members.size(); ++dst) {
        if (dst == e.bridge_slot || !TakesTraffic(view.members[dst])) continue;
        const TxChoice c = TxQueueFor(e.bridge_lanes[dst], e.rx_queue, view.members[dst].queues);
        EXPECT_LT(c.queue, view.members[dst].queues);
        auto [it, added] = writes[{dst, c.queue}].emplace(core, c.shared);
        it->second = it->second && c.shared;
      }
    }
  }
  return writes;
}

// A tx queue written from two cores is written under its lock by all of them; returns
// how many queues are shared.
size_t ExpectLockedWhereShared(const Writes& writes) {
  size_t shared = 0;
  for (const auto& [queue, cores] : writes) {
    if (cores.size() < 2) continue;
    ++shared;
    for (const auto& [core, locked] : cores) {
      EXPECT_TRUE(locked) << "tx queue " << queue.second << " of slot " << queue.first << " from core " << core;
    }
  }
  return shared;
}

TEST(BridgePlanTest, EveryReceiveQueueIsAUnitOfItsOwn) {
  TestBridge b({1, 2, 1});
  std::vector<ForwardingUnit> units = BridgeUnits(b.view);
  ASSERT_EQ(units.size(), 4u);
  const std::pair<size_t, uint16_t> expected[] = {{0, 0}, {1, 0}, {1, 1}, {2, 0}};
  for (size_t i = 0; i < units.size(); ++i) {
    ASSERT_EQ(units[i].entries.size(), 1u);
    const PollEntry& e = units[i].entries[0];
    EXPECT_EQ(e.bridge, &b.view);
    EXPECT_EQ(e.bridge_slot, expected[i].first);
    EXPECT_EQ(e.rx_queue, expected[i].second);
    EXPECT_EQ(e.bridge_slots, 3);
    EXPECT_EQ(units[i].labels[0].rx_port, "p" + std::to_string(expected[i].first));
    EXPECT_EQ(units[i].labels[0].tx_port, "bridge:br0");
  }
}

// One core: every entry writes queue rx mod n of each member, as before lanes, unlocked.
TEST(BridgePlanTest, OneCoreWritesQueueRxModNWithoutLocks) {
  TestBridge b({4, 2, 1});
  const std::vector<CoreProgram> programs = AssignToCores(BridgeUnits(b.view), 1);
  for (const PollEntry& e : programs[0].entries) {
    for (size_t dst = 0; dst < 3; ++dst) {
      if (dst == e.bridge_slot) continue;
      const TxChoice c = TxQueueFor(e.bridge_lanes[dst], e.rx_queue, b.view.members[dst].queues);
      EXPECT_EQ(c.queue, e.rx_queue % b.view.members[dst].queues);
      EXPECT_FALSE(c.shared);
    }
  }
}

// Single-queue ports spread over two cores: the cores that send to a port share its
// one queue, under its lock, but a core that only receives from a port does not count
// as sending to it.
TEST(BridgePlanTest, SingleQueuePortsSpreadOverCoresAndShareUnderTheLock) {
  TestBridge two({1, 1});
  const auto apart = AssignToCores(BridgeUnits(two.view), 2);
  ASSERT_EQ(apart[0].entries.size(), 1u);
  ASSERT_EQ(apart[1].entries.size(), 1u);
  const Writes two_writes = WritesOf(apart, two.view);
  EXPECT_EQ(ExpectLockedWhereShared(two_writes), 0u) << "each port is sent to from the other's core only";
  for (const auto& [queue, cores] : two_writes) {
    for (const auto& [core, locked] : cores) EXPECT_FALSE(locked) << "no lock where nothing is shared";
  }

  TestBridge three({1, 1, 1});
  const auto spread = AssignToCores(BridgeUnits(three.view), 2);
  EXPECT_EQ(spread[0].entries.size() + spread[1].entries.size(), 3u);
  EXPECT_FALSE(spread[0].entries.empty() || spread[1].entries.empty()) << "the bridge's queues use both cores";
  EXPECT_GT(ExpectLockedWhereShared(WritesOf(spread, three.view)), 0u);
}

// Any mix of queue counts over 1..4 cores: every queue written from two cores is
// locked by all its writers, and ports with a queue per sending core share none.
TEST(BridgePlanTest, MixedQueueCountsShareOnlyUnderTheLock) {
  for (std::vector<uint16_t> queues : std::vector<std::vector<uint16_t>>{{2, 3}, {4, 2, 1}, {6, 4}, {8, 8, 2}, {4, 4, 4}}) {
    for (size_t cores = 1; cores <= 4; ++cores) {
      SCOPED_TRACE(testing::Message() << queues.size() << " ports, first with " << queues[0] << " queues, " << cores
                                      << " cores");
      TestBridge b(queues);
      const auto programs = AssignToCores(BridgeUnits(b.view), cores);
      size_t entries = 0, expected = 0;
      for (const CoreProgram& p : programs) entries += p.entries.size();
      for (uint16_t q : queues) expected += q;
      EXPECT_EQ(entries, expected) << "every receive queue is polled";
      const size_t shared = ExpectLockedWhereShared(WritesOf(programs, b.view));
      if (cores == 1) EXPECT_EQ(shared, 0u);
      bool enough = true;
      for (uint16_t q : queues) enough = enough && q >= cores;
      if (enough) EXPECT_EQ(shared, 0u) << "every port has a queue per core";
    }
  }
}

TEST(BridgePlanTest, PortsWithoutQueuesOrFreeSlotsAreNotPolled) {
  TestBridge b({1, 0, 1});
  b.view.members.push_back(BridgeMember{});  // a free slot
  std::vector<ForwardingUnit> units = BridgeUnits(b.view);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[1].entries[0].bridge_slot, 2);
}

}  // namespace
}  // namespace vhostd
