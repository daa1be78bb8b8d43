#include "dataplane/forwarding_plan.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

// The planner never calls a port's I/O functions; tests tell ports apart by the
// context pointer, which carries a small id.
PortIo FakeIo(uint16_t id) { return PortIo{nullptr, nullptr, reinterpret_cast<void*>(static_cast<uintptr_t>(id))}; }
uint16_t Id(const PortIo& io) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(io.context)); }

// A port with its own counters array, as a PortBackend would own it.
struct TestPort {
  TestPort(std::string name, uint16_t port_id, uint16_t queues)
      : counters(new QueueCounters[queues]), ref{std::move(name), FakeIo(port_id), queues, nullptr}, id(port_id) {
    ref.counters = counters.get();
  }
  std::unique_ptr<QueueCounters[]> counters;
  PortRef ref;
  uint16_t id;
};

using QueueKey = std::pair<uint16_t, uint16_t>;  // (port id, queue)

// Every entry's label must describe the entry it is paired with.
void ExpectLabelsMatch(const std::vector<PollEntry>& entries, const std::vector<PollLabel>& labels,
                       const TestPort& a, const TestPort& b) {
  ASSERT_EQ(entries.size(), labels.size());
  auto name_of = [&](uint16_t port_id) { return port_id == a.id ? a.ref.name : b.ref.name; };
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(labels[i].rx_port, name_of(Id(entries[i].rx_port))) << "entry " << i;
    EXPECT_EQ(labels[i].rx_queue, entries[i].rx_queue) << "entry " << i;
    EXPECT_EQ(labels[i].tx_port, name_of(Id(entries[i].tx_port))) << "entry " << i;
    EXPECT_EQ(labels[i].tx_queue, entries[i].tx_queue) << "entry " << i;
  }
}

// Checks every property CrossConnectUnits promises for ports with `na` and `nb` queues.
void CheckCrossConnect(uint16_t na, uint16_t nb) {
  SCOPED_TRACE(testing::Message() << "queues " << na << "/" << nb);
  TestPort a("port-a", 3, na);
  TestPort b("port-b", 7, nb);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(a.ref, b.ref);

  // One unit per receive queue: any of them can go to any core.
  ASSERT_THAT(units, SizeIs(na + nb));

  std::map<QueueKey, int> rx_seen;  // (port, rxq) -> times polled
  std::set<QueueKey> tx_written;    // (port, txq)
  for (size_t u = 0; u < units.size(); ++u) {
    const ForwardingUnit& unit = units[u];
    ASSERT_THAT(unit.entries, SizeIs(1)) << "unit " << u;
    ExpectLabelsMatch(unit.entries, unit.labels, a, b);
    const PollEntry& e = unit.entries[0];
    EXPECT_EQ(Id(e.rx_port), u < na ? a.id : b.id) << "a's queues first, then b's";
    const bool from_a = Id(e.rx_port) == a.id;
    const TestPort& rx = from_a ? a : b;
    const TestPort& tx = from_a ? b : a;
    // Packets go to the other port, to queue rx % the other's queue count (what one
    // core sending alone writes; AssignTxLanes changes it for several).
    EXPECT_EQ(Id(e.tx_port), tx.id);
    ASSERT_LT(e.rx_queue, rx.ref.queues);
    EXPECT_EQ(e.tx_queue, e.rx_queue % tx.ref.queues);
    EXPECT_EQ(e.tx_queues, tx.ref.queues);
    EXPECT_FALSE(e.tx_shared);
    // Counter pointers point at the right array elements.
    EXPECT_EQ(e.rx_counters, &rx.counters[e.rx_queue]);
    EXPECT_EQ(e.tx_counters, &tx.counters[e.tx_queue]);
    ++rx_seen[{Id(e.rx_port), e.rx_queue}];
    tx_written.insert({Id(e.tx_port), e.tx_queue});
  }
  // Every receive queue of both ports is polled exactly once.
  ASSERT_EQ(rx_seen.size(), static_cast<size_t>(na) + nb);
  for (uint16_t q = 0; q < na; ++q) EXPECT_EQ((rx_seen[{a.id, q}]), 1) << "a rxq " << q;
  for (uint16_t q = 0; q < nb; ++q) EXPECT_EQ((rx_seen[{b.id, q}]), 1) << "b rxq " << q;
  // Each side transmits on queues 0..min(na, nb)-1.
  EXPECT_EQ(tx_written.size(), 2u * std::min(na, nb));
}

// The set of (rx port, rx queue, tx port, tx queue) of a unit's entries.
std::set<std::tuple<int, int, int, int>> EntrySet(const ForwardingUnit& unit) {
  std::set<std::tuple<int, int, int, int>> set;
  for (const PollEntry& e : unit.entries) set.insert({Id(e.rx_port), e.rx_queue, Id(e.tx_port), e.tx_queue});
  return set;
}

TEST(CrossConnectUnitsTest, OneQueueEachGivesOneUnitPerDirection) {
  CheckCrossConnect(1, 1);
  TestPort a("a", 0, 1), b("b", 1, 1);
  const auto units = CrossConnectUnits(a.ref, b.ref);
  ASSERT_THAT(units, SizeIs(2));
  ASSERT_THAT(units[0].entries, SizeIs(1));
  ASSERT_THAT(units[1].entries, SizeIs(1));
  EXPECT_EQ(Id(units[0].entries[0].rx_port), 0) << "a->b first";
  EXPECT_EQ(Id(units[0].entries[0].tx_port), 1);
  EXPECT_EQ(Id(units[1].entries[0].rx_port), 1);
  EXPECT_EQ(Id(units[1].entries[0].tx_port), 0);
}

// A vhost-user frontend that has not enabled any queue yet reports zero.
TEST(CrossConnectUnitsTest, ASideWithoutQueuesForwardsNothing) {
  TestPort a("a", 0, 0), b("b", 1, 4);
  EXPECT_THAT(CrossConnectUnits(a.ref, b.ref), IsEmpty());
  EXPECT_THAT(CrossConnectUnits(b.ref, a.ref), IsEmpty());
}

TEST(CrossConnectUnitsTest, EqualQueueCountsGiveOneUnitPerReceiveQueue) {
  CheckCrossConnect(4, 4);
  TestPort a("a", 0, 4), b("b", 1, 4);
  const auto units = CrossConnectUnits(a.ref, b.ref);
  ASSERT_THAT(units, SizeIs(8));
  for (uint16_t u = 0; u < 8; ++u) {
    const int rx = u < 4 ? 0 : 1;
    const int q = u % 4;
    EXPECT_EQ(EntrySet(units[u]), (std::set<std::tuple<int, int, int, int>>{{rx, q, 1 - rx, q}})) << "unit " << u;
  }
}

TEST(CrossConnectUnitsTest, MoreQueuesOnA) {
  CheckCrossConnect(4, 2);
  TestPort a("a", 0, 4), b("b", 1, 2);
  const auto units = CrossConnectUnits(a.ref, b.ref);
  ASSERT_THAT(units, SizeIs(6));
  // a's queues 0 and 2 both send to b's queue 0 (while one core runs them), yet are
  // units of their own; b's receive queues each write their own queue of a.
  using Set = std::set<std::tuple<int, int, int, int>>;
  EXPECT_EQ(EntrySet(units[0]), (Set{{0, 0, 1, 0}}));
  EXPECT_EQ(EntrySet(units[1]), (Set{{0, 1, 1, 1}}));
  EXPECT_EQ(EntrySet(units[2]), (Set{{0, 2, 1, 0}}));
  EXPECT_EQ(EntrySet(units[3]), (Set{{0, 3, 1, 1}}));
  EXPECT_EQ(EntrySet(units[4]), (Set{{1, 0, 0, 0}}));
  EXPECT_EQ(EntrySet(units[5]), (Set{{1, 1, 0, 1}}));
}

TEST(CrossConnectUnitsTest, MoreQueuesOnB) {
  CheckCrossConnect(1, 3);
  TestPort a("a", 0, 1), b("b", 1, 3);
  const auto units = CrossConnectUnits(a.ref, b.ref);
  ASSERT_THAT(units, SizeIs(4)) << "a's one queue, then each of b's three (all writing a's one)";
}

TEST(CrossConnectUnitsTest, AllCombinationsUpToEightQueues) {
  for (uint16_t na = 1; na <= 8; ++na) {
    for (uint16_t nb = 1; nb <= 8; ++nb) CheckCrossConnect(na, nb);
  }
  CheckCrossConnect(16, 5);
  CheckCrossConnect(3, 16);
}

// Units of `sizes[i]` entries each, with distinct receive queues so they can be traced.
std::vector<ForwardingUnit> MakeUnits(const std::vector<size_t>& sizes) {
  std::vector<ForwardingUnit> units;
  uint16_t next = 0;
  for (size_t size : sizes) {
    ForwardingUnit unit;
    for (size_t i = 0; i < size; ++i, ++next) {
      unit.entries.push_back(PollEntry{FakeIo(0), next, FakeIo(1), next, nullptr, nullptr});
      unit.labels.push_back(PollLabel{"a", next, "b", next});
    }
    units.push_back(unit);
  }
  return units;
}

// Which core got each unit (by its first receive queue); checks units stay whole.
std::vector<size_t> CoreOfUnits(const std::vector<ForwardingUnit>& units, const std::vector<CoreProgram>& programs) {
  std::map<uint16_t, size_t> core_of_queue;
  for (size_t c = 0; c < programs.size(); ++c) {
    EXPECT_EQ(programs[c].entries.size(), programs[c].labels.size());
    for (size_t i = 0; i < programs[c].entries.size(); ++i) {
      EXPECT_TRUE(core_of_queue.emplace(programs[c].entries[i].rx_queue, c).second) << "queue twice";
      EXPECT_EQ(programs[c].labels[i].rx_queue, programs[c].entries[i].rx_queue) << "label out of step";
    }
  }
  std::vector<size_t> result;
  for (const ForwardingUnit& unit : units) {
    const size_t core = core_of_queue.at(unit.entries.front().rx_queue);
    for (const PollEntry& e : unit.entries) EXPECT_EQ(core_of_queue.at(e.rx_queue), core) << "unit split";
    result.push_back(core);
  }
  return result;
}

TEST(AssignToCoresTest, ZeroCoresGivesNoPrograms) {
  EXPECT_THAT(AssignToCores(MakeUnits({2, 2}), 0), IsEmpty());
  EXPECT_THAT(AssignToCores({}, 0), IsEmpty());
}

TEST(AssignToCoresTest, NoUnitsGivesEmptyProgramPerCore) {
  const auto programs = AssignToCores({}, 3);
  ASSERT_THAT(programs, SizeIs(3));
  for (const CoreProgram& p : programs) {
    EXPECT_THAT(p.entries, IsEmpty());
    EXPECT_THAT(p.labels, IsEmpty());
  }
}

TEST(AssignToCoresTest, EqualUnitsSpreadEvenly) {
  const auto units = MakeUnits({2, 2, 2, 2});
  const auto programs = AssignToCores(units, 2);
  ASSERT_THAT(programs, SizeIs(2));
  EXPECT_THAT(programs[0].entries, SizeIs(4));
  EXPECT_THAT(programs[1].entries, SizeIs(4));
  EXPECT_EQ(CoreOfUnits(units, programs), (std::vector<size_t>{0, 1, 0, 1}));
}

TEST(AssignToCoresTest, GoesToLeastLoadedCoreLowestIndexOnTies) {
  const auto units = MakeUnits({4, 1, 1, 1, 1, 3});
  const auto programs = AssignToCores(units, 2);
  ASSERT_THAT(programs, SizeIs(2));
  // 4 -> c0; then 1,1,1,1 -> c1 (c1 stays below 4); then 3 on a 4/4 tie -> c0.
  EXPECT_EQ(CoreOfUnits(units, programs), (std::vector<size_t>{0, 1, 1, 1, 1, 0}));
  EXPECT_THAT(programs[0].entries, SizeIs(7));
  EXPECT_THAT(programs[1].entries, SizeIs(4));
}

TEST(AssignToCoresTest, BalancedWithinLargestUnit) {
  const auto units = MakeUnits({3, 1, 2, 2, 1, 3, 1, 2, 2, 1});
  for (size_t cores = 1; cores <= 5; ++cores) {
    const auto programs = AssignToCores(units, cores);
    ASSERT_THAT(programs, SizeIs(cores));
    size_t lo = SIZE_MAX, hi = 0, total = 0;
    for (const CoreProgram& p : programs) {
      lo = std::min(lo, p.entries.size());
      hi = std::max(hi, p.entries.size());
      total += p.entries.size();
    }
    EXPECT_EQ(total, 18u);
    EXPECT_LE(hi - lo, 3u) << cores << " cores";  // never worse than the largest unit
    CoreOfUnits(units, programs);
  }
}

TEST(AssignToCoresTest, Deterministic) {
  TestPort a("a", 0, 4), b("b", 1, 2), c("c", 2, 3), d("d", 3, 3);
  std::vector<ForwardingUnit> units = CrossConnectUnits(a.ref, b.ref);
  const std::vector<ForwardingUnit> more = CrossConnectUnits(c.ref, d.ref);
  units.insert(units.end(), more.begin(), more.end());
  const auto first = AssignToCores(units, 3);
  const auto second = AssignToCores(units, 3);
  ASSERT_EQ(first.size(), second.size());
  for (size_t c = 0; c < first.size(); ++c) {
    ASSERT_EQ(first[c].entries.size(), second[c].entries.size());
    for (size_t i = 0; i < first[c].entries.size(); ++i) {
      EXPECT_EQ(Id(first[c].entries[i].rx_port), Id(second[c].entries[i].rx_port));
      EXPECT_EQ(first[c].entries[i].rx_queue, second[c].entries[i].rx_queue);
      EXPECT_EQ(first[c].entries[i].rx_counters, second[c].entries[i].rx_counters);
      EXPECT_EQ(first[c].labels[i].rx_port, second[c].labels[i].rx_port);
    }
  }
}

TEST(AssignToCoresTest, MoreCoresThanUnits) {
  const auto units = MakeUnits({2, 3});
  const auto programs = AssignToCores(units, 4);
  ASSERT_THAT(programs, SizeIs(4));
  EXPECT_EQ(CoreOfUnits(units, programs), (std::vector<size_t>{0, 1}));
  EXPECT_THAT(programs[2].entries, IsEmpty());
  EXPECT_THAT(programs[3].entries, IsEmpty());
}

// Scheduling is per receive queue: with two cores, the two directions of a one-queue
// link run on different cores.
TEST(AssignToCoresTest, TheTwoDirectionsOfALinkRunOnDifferentCores) {
  TestPort a("a", 0, 1), b("b", 1, 1);
  const auto programs = AssignToCores(CrossConnectUnits(a.ref, b.ref), 2);
  ASSERT_THAT(programs, SizeIs(2));
  ASSERT_THAT(programs[0].entries, SizeIs(1));
  ASSERT_THAT(programs[1].entries, SizeIs(1));
  EXPECT_NE(Id(programs[0].entries[0].rx_port), Id(programs[1].entries[0].rx_port));
}

// What AssignTxLanes promises for cross-connect entries, checked on `programs`:
// - a tx queue written from two cores is written under its lock by all of them;
// - a port with at least as many tx queues as cores sending to it shares none;
// - each entry's counters and label follow its tx queue.
// `ports` maps a port id to its TestPort. Returns the number of shared writers.
size_t CheckTxQueues(const std::vector<CoreProgram>& programs, const std::map<uint16_t, const TestPort*>& ports) {
  std::map<QueueKey, std::set<size_t>> writers;
  std::map<QueueKey, bool> all_shared;
  std::map<uint16_t, std::set<size_t>> senders;  // port id -> cores
  size_t shared = 0;
  for (size_t core = 0; core < programs.size(); ++core) {
    for (size_t i = 0; i < programs[core].entries.size(); ++i) {
      const PollEntry& e = programs[core].entries[i];
      const TestPort& tx = *ports.at(Id(e.tx_port));
      EXPECT_LT(e.tx_queue, tx.ref.queues);
      EXPECT_EQ(e.tx_counters, &tx.counters[e.tx_queue]) << "counters follow the queue";
      EXPECT_EQ(programs[core].labels[i].tx_queue, e.tx_queue) << "label follows the queue";
      const QueueKey key{Id(e.tx_port), e.tx_queue};
      writers[key].insert(core);
      auto [it, added] = all_shared.emplace(key, e.tx_shared);
      it->second = it->second && e.tx_shared;
      senders[Id(e.tx_port)].insert(core);
      shared += e.tx_shared;
    }
  }
  for (const auto& [key, cores] : writers) {
    if (cores.size() > 1) EXPECT_TRUE(all_shared[key]) << "tx (" << key.first << "," << key.second << ") written from "
                                                       << cores.size() << " cores without the lock";
    if (senders[key.first].size() <= ports.at(key.first)->ref.queues) {
      EXPECT_EQ(cores.size(), 1u) << "port " << key.first << " has a queue per sending core";
      EXPECT_FALSE(all_shared[key]) << "port " << key.first << ": no lock where no queue is shared";
    }
  }
  return shared;
}

// End to end: a transmit queue is shared across cores only under its lock, and only
// where a port has fewer queues than cores sending to it.
TEST(AssignToCoresTest, TransmitQueuesAreSharedOnlyWhereTooFewAndThenLocked) {
  TestPort a("a", 0, 4), b("b", 1, 2), c("c", 2, 1), d("d", 3, 3);
  const std::map<uint16_t, const TestPort*> ports{{0, &a}, {1, &b}, {2, &c}, {3, &d}};
  std::vector<ForwardingUnit> units = CrossConnectUnits(a.ref, b.ref);
  const std::vector<ForwardingUnit> more = CrossConnectUnits(c.ref, d.ref);
  units.insert(units.end(), more.begin(), more.end());
  size_t shared_somewhere = 0;
  for (size_t cores = 1; cores <= 6; ++cores) {
    SCOPED_TRACE(testing::Message() << cores << " cores");
    const auto programs = AssignToCores(units, cores);
    size_t entries = 0;
    for (const CoreProgram& p : programs) entries += p.entries.size();
    EXPECT_EQ(entries, 4u + 2u + 1u + 3u);
    const size_t shared = CheckTxQueues(programs, ports);
    if (cores == 1) EXPECT_EQ(shared, 0u);
    shared_somewhere += shared;
  }
  EXPECT_GT(shared_somewhere, 0u) << "d's three queues all send to c's one: with cores to spare, they share it";
}

// One core sending to a port writes queue rx mod n, as before lanes; two cores each
// own half of its queues; three cores on two queues share one of them.
TEST(TxLanesTest, QueuesFollowTheCore) {
  EXPECT_EQ(TxQueueFor(TxLane{0, 1}, 5, 4).queue, 1);
  EXPECT_FALSE(TxQueueFor(TxLane{0, 1}, 5, 4).shared);
  for (uint16_t rx = 0; rx < 8; ++rx) {
    const TxChoice lane0 = TxQueueFor(TxLane{0, 2}, rx, 4);
    const TxChoice lane1 = TxQueueFor(TxLane{1, 2}, rx, 4);
    EXPECT_EQ(lane0.queue % 2, 0) << "lane 0 owns queues 0 and 2";
    EXPECT_EQ(lane1.queue % 2, 1) << "lane 1 owns queues 1 and 3";
    EXPECT_EQ(lane0.queue, rx % 2 == 0 ? 0 : 2) << "and spreads its rx queues over them";
    EXPECT_FALSE(lane0.shared || lane1.shared);
  }
  // Five queues over two lanes: lane 0 owns 0, 2, 4; lane 1 owns 1, 3.
  EXPECT_EQ(TxQueueFor(TxLane{0, 2}, 2, 5).queue, 4);
  EXPECT_EQ(TxQueueFor(TxLane{1, 2}, 2, 5).queue, 1);
  // Three lanes, two queues: lanes 0 and 2 share queue 0, lane 1 has queue 1 alone.
  EXPECT_EQ(TxQueueFor(TxLane{0, 3}, 7, 2).queue, 0);
  EXPECT_TRUE(TxQueueFor(TxLane{0, 3}, 7, 2).shared);
  EXPECT_EQ(TxQueueFor(TxLane{1, 3}, 7, 2).queue, 1);
  EXPECT_FALSE(TxQueueFor(TxLane{1, 3}, 7, 2).shared);
  EXPECT_EQ(TxQueueFor(TxLane{2, 3}, 0, 2).queue, 0);
  EXPECT_TRUE(TxQueueFor(TxLane{2, 3}, 0, 2).shared);
}

// Every (lanes, queues) up to 8: within a lane every queue is valid; across lanes a
// queue has two writers exactly when both say shared; no lane shares while there
// are queues enough; and together the lanes use every queue they can.
TEST(TxLanesTest, AllCombinations) {
  for (uint16_t lanes = 1; lanes <= 8; ++lanes) {
    for (uint16_t queues = 1; queues <= 8; ++queues) {
      SCOPED_TRACE(testing::Message() << lanes << " lanes, " << queues << " queues");
      std::map<uint16_t, std::set<uint16_t>> writers;  // queue -> lanes
      std::map<std::pair<uint16_t, uint16_t>, bool> shared;
      for (uint16_t lane = 0; lane < lanes; ++lane) {
        for (uint16_t rx = 0; rx < 16; ++rx) {
          const TxChoice c = TxQueueFor(TxLane{lane, lanes}, rx, queues);
          ASSERT_LT(c.queue, queues);
          writers[c.queue].insert(lane);
          shared[{c.queue, lane}] = c.shared;
        }
      }
      for (const auto& [queue, by] : writers) {
        for (uint16_t lane : by) EXPECT_EQ(shared[std::make_pair(queue, lane)], by.size() > 1) << "queue " << queue;
      }
      EXPECT_EQ(writers.size(), queues) << "every queue is used";
    }
  }
}

// --- stable assignment ---

// Ports by name, each with its own counters; cross-connects of them as unit lists.
class Ports {
 public:
  TestPort& Add(const std::string& name, uint16_t queues) {
    ports_.push_back(std::make_unique<TestPort>(name, static_cast<uint16_t>(ports_.size()), queues));
    return *ports_.back();
  }
  // Units of the cross-connects (a, b) in `links`, in that order.
  std::vector<ForwardingUnit> Units(const std::vector<std::pair<int, int>>& links) const {
    std::vector<ForwardingUnit> units;
    for (const auto& [a, b] : links) {
      std::vector<ForwardingUnit> more = CrossConnectUnits(ports_[a]->ref, ports_[b]->ref);
      units.insert(units.end(), more.begin(), more.end());
    }
    return units;
  }
  std::map<uint16_t, const TestPort*> ById() const {
    std::map<uint16_t, const TestPort*> by_id;
    for (const auto& port : ports_) by_id[port->id] = port.get();
    return by_id;
  }

 private:
  std::vector<std::unique_ptr<TestPort>> ports_;
};

// Every queue of `before` that `after` still polls is on the same core.
void ExpectNothingMoved(const CurrentAssignment& before, const CurrentAssignment& after) {
  for (const auto& [queue, placed] : before) {
    auto it = after.find(queue);
    if (it == after.end()) continue;
    EXPECT_EQ(it->second.core, placed.core) << queue.first << " queue " << queue.second << " moved";
  }
}

size_t Moved(const CurrentAssignment& before, const CurrentAssignment& after) {
  size_t moved = 0;
  for (const auto& [queue, placed] : before) {
    auto it = after.find(queue);
    moved += it != after.end() && it->second.core != placed.core;
  }
  return moved;
}

TEST(StableAssignmentTest, AddingAnUnrelatedCrossConnectMovesNothing) {
  Ports ports;
  ports.Add("b1", 2), ports.Add("b2", 2), ports.Add("c1", 1), ports.Add("c2", 3), ports.Add("a1", 2), ports.Add("a2", 1);
  const auto before = AssignToCores(ports.Units({{0, 1}, {2, 3}}), 2);
  // The new cross-connect sorts first by name, so its units come first.
  const auto units = ports.Units({{4, 5}, {0, 1}, {2, 3}});
  const auto after = AssignToCores(units, 2, AssignmentOf(before));
  ExpectNothingMoved(AssignmentOf(before), AssignmentOf(after));
  EXPECT_EQ(AssignmentOf(after).size(), 2u + 2u + 1u + 3u + 2u + 1u);
  // The test can fail: planning from scratch (as before stable assignment) moves queues.
  EXPECT_GT(Moved(AssignmentOf(before), AssignmentOf(AssignToCores(units, 2))), 0u);
}

TEST(StableAssignmentTest, DeletingAnUnrelatedCrossConnectMovesNothing) {
  Ports ports;
  ports.Add("a1", 1), ports.Add("a2", 1), ports.Add("b1", 2), ports.Add("b2", 2), ports.Add("c1", 1), ports.Add("c2", 3);
  const auto before = AssignToCores(ports.Units({{0, 1}, {2, 3}, {4, 5}}), 3);
  const auto units = ports.Units({{2, 3}, {4, 5}});
  const auto after = AssignToCores(units, 3, AssignmentOf(before));
  ExpectNothingMoved(AssignmentOf(before), AssignmentOf(after));
  const CurrentAssignment left = AssignmentOf(after);
  EXPECT_EQ(left.count({"a1", 0}), 0u) << "the deleted cross-connect's queues are dropped";
  EXPECT_EQ(left.size(), 2u + 2u + 1u + 3u);
  EXPECT_GT(Moved(AssignmentOf(before), AssignmentOf(AssignToCores(units, 3))), 0u);
}

TEST(StableAssignmentTest, NewUnitsGoToTheCoreWithTheFewestEntries) {
  Ports ports;
  ports.Add("a", 2), ports.Add("b", 2), ports.Add("c", 1), ports.Add("d", 1);
  // All four of a<->b's units on core 1 (as an earlier plan may have left them).
  CurrentAssignment current;
  for (const RxQueueKey& q : {RxQueueKey{"a", 0}, {"a", 1}, {"b", 0}, {"b", 1}}) current[q] = {1};
  const auto programs = AssignToCores(ports.Units({{0, 1}, {2, 3}}), 2, current);
  ASSERT_THAT(programs, SizeIs(2));
  EXPECT_THAT(programs[1].entries, SizeIs(4)) << "a<->b stays";
  EXPECT_THAT(programs[0].entries, SizeIs(2)) << "both of c<->d's units go to the emptier core";
}

TEST(StableAssignmentTest, QueuesOnACoreThatNoLongerExistsArePlacedAnew) {
  Ports ports;
  ports.Add("a", 1), ports.Add("b", 1);
  CurrentAssignment current{{{"a", 0}, {3}}, {{"b", 0}, {3}}};
  const auto programs = AssignToCores(ports.Units({{0, 1}}), 2, current);
  ASSERT_THAT(programs, SizeIs(2));
  EXPECT_THAT(programs[0].entries, SizeIs(1));
  EXPECT_THAT(programs[1].entries, SizeIs(1));
}

// A port's queue count changed so that rx queues polled on two cores now send to one
// tx queue: they stay where they are and share it, under its lock.
TEST(StableAssignmentTest, QueuesThatNowSendToOneTxQueueStayAndShareIt) {
  Ports ports;
  ports.Add("p", 3), ports.Add("q", 1);
  CurrentAssignment current{{{"p", 0}, {0}}, {{"p", 1}, {1}}, {{"p", 2}, {1}}, {{"q", 0}, {0}}};
  const auto programs = AssignToCores(ports.Units({{0, 1}}), 2, current);
  const CurrentAssignment after = AssignmentOf(programs);
  EXPECT_EQ(after.at({"p", 0}).core, 0u);
  EXPECT_EQ(after.at({"p", 1}).core, 1u);
  EXPECT_EQ(after.at({"p", 2}).core, 1u);
  EXPECT_EQ(after.at({"q", 0}).core, 0u);
  EXPECT_EQ(CheckTxQueues(programs, ports.ById()), 3u) << "p's three entries write q's queue under its lock";
  for (const CoreProgram& program : programs) {
    for (const PollEntry& e : program.entries) {
      if (Id(e.tx_port) == 0) EXPECT_FALSE(e.tx_shared) << "q's queue 0 to p: one core sends there";
    }
  }
}

// Random churn of cross-connects over 3 cores: no change moves a queue that was
// polled before, and no transmit queue is written from two cores without its lock.
TEST(StableAssignmentTest, RandomChurnMovesNoSurvivingQueue) {
  std::mt19937 random(11);
  Ports ports;
  constexpr int kLinks = 8;
  for (int i = 0; i < 2 * kLinks; ++i) ports.Add("p" + std::to_string(i), static_cast<uint16_t>(1 + random() % 4));
  std::set<int> live;
  std::vector<CoreProgram> programs(3);
  for (int step = 0; step < 300; ++step) {
    const int link = static_cast<int>(random() % kLinks);
    if (!live.erase(link)) live.insert(link);
    std::vector<std::pair<int, int>> links;
    for (int l : live) links.push_back({2 * l, 2 * l + 1});
    std::shuffle(links.begin(), links.end(), random);  // input order must not matter
    const auto next = AssignToCores(ports.Units(links), 3, AssignmentOf(programs));
    ExpectNothingMoved(AssignmentOf(programs), AssignmentOf(next));
    SCOPED_TRACE(testing::Message() << "step " << step);
    CheckTxQueues(next, ports.ById());
    programs = next;
  }
}

// --- load-based assignment ---

// Where a unit of `ports.Units` went: the core of its first queue.
size_t CoreOf(const std::vector<CoreProgram>& programs, const RxQueueKey& queue) {
  return AssignmentOf(programs).at(queue).core;
}

// One hot queue on core 0 outweighs three idle ones on core 1: the new unit goes to
// core 1, where counting entries would have sent it to core 0.
TEST(LoadAssignmentTest, NewUnitsGoToTheCoreWithTheLeastMeasuredLoad) {
  Ports ports;
  ports.Add("hot", 1), ports.Add("idle", 3), ports.Add("new", 1);
  CurrentAssignment current{{{"hot", 0}, {0, 0.9}}, {{"idle", 0}, {1, 0.0}}, {{"idle", 1}, {1, 0.01}},
                            {{"idle", 2}, {1, 0.02}}};
  // hot->idle (1 unit) and idle->hot (a unit per queue) run now.
  std::vector<ForwardingUnit> units = ports.Units({{0, 1}});
  ASSERT_EQ(units.size(), 4u);
  std::vector<ForwardingUnit> fresh = ports.Units({{2, 2}});  // a port looped to itself
  units.insert(units.end(), fresh.begin(), fresh.end());
  const auto programs = AssignToCores(units, 2, current);
  EXPECT_EQ(CoreOf(programs, {"new", 0}), 1u);

  for (auto& [queue, placed] : current) placed.load.reset();
  EXPECT_EQ(CoreOf(AssignToCores(units, 2, current), {"new", 0}), 0u) << "unmeasured: fewest entries";
}

// Loads closer than kLoadTie are noise: then the entry count decides.
TEST(LoadAssignmentTest, NearlyEqualLoadsFallBackToEntryCount) {
  Ports ports;
  ports.Add("a", 1), ports.Add("b", 3), ports.Add("new", 1);
  CurrentAssignment current{{{"a", 0}, {0, 0.02}}, {{"b", 0}, {1, 0.0}}, {{"b", 1}, {1, 0.0}}, {{"b", 2}, {1, 0.0}}};
  std::vector<ForwardingUnit> units = ports.Units({{0, 1}, {2, 2}});
  EXPECT_EQ(CoreOf(AssignToCores(units, 2, current), {"new", 0}), 0u);
}

// New queues count as the mean measured load, so a batch of them spreads by load
// instead of all going to the one least-loaded core.
TEST(LoadAssignmentTest, UnmeasuredQueuesCountAsTheMeanLoad) {
  Ports ports;
  ports.Add("a", 2), ports.Add("b", 2), ports.Add("c", 3), ports.Add("d", 3);
  // a<->b: 4 units; a's two rx queues measured at 0.3 each on core 0, b's on core 0
  // unmeasured (so core 0 carries 0.6 + 2 guesses of 0.3).
  CurrentAssignment current{{{"a", 0}, {0, 0.3}}, {{"a", 1}, {0, 0.3}}, {{"b", 0}, {0, std::nullopt}},
                            {{"b", 1}, {0, std::nullopt}}};
  const auto programs = AssignToCores(ports.Units({{0, 1}, {2, 3}}), 2, current);
  std::vector<size_t> placed;
  for (uint16_t q = 0; q < 3; ++q) placed.push_back(CoreOf(programs, {"c", q}));
  for (uint16_t q = 0; q < 3; ++q) placed.push_back(CoreOf(programs, {"d", q}));
  // Core 0 has 1.2; core 1 takes new queues (0.3 each) until it reaches that: four of
  // them, then the 1.2/1.2 tie goes by entries (4 each) to core 0, then core 1.
  EXPECT_EQ(placed, (std::vector<size_t>{1, 1, 1, 1, 0, 1}));
}

// --- Assignment modes, pinning, rebalancing (OVS's pmd-rxq-assign, pmd-rxq-affinity) ---

// Units of one queue each, "a" queue i, measured at loads[i] on core 0.
CurrentAssignment LoadedOnCoreZero(const std::vector<double>& loads) {
  CurrentAssignment current;
  for (size_t i = 0; i < loads.size(); ++i) current[{"a", static_cast<uint16_t>(i)}] = {0, loads[i]};
  return current;
}

AssignOptions Rebalance(AssignMode mode) {
  AssignOptions options;
  options.mode = mode;
  options.rebalance = true;
  return options;
}

TEST(AssignModeTest, RebalanceRoundRobinDealsUnitsInOrderIgnoringLoad) {
  const auto units = MakeUnits({1, 1, 1, 1, 1});
  const auto current = LoadedOnCoreZero({0.9, 0.8, 0.1, 0.1, 0.1});
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, current, Rebalance(AssignMode::kRoundRobin))),
            (std::vector<size_t>{0, 1, 0, 1, 0}));
}

TEST(AssignModeTest, RebalanceCyclesDealsHeaviestFirstThereAndBack) {
  const auto units = MakeUnits({1, 1, 1, 1, 1, 1});
  // Sorted by load: q5 (0.6), q4, q3, q2, q1, q0 (0.1); dealt 0, 1, 1, 0, 0, 1.
  const auto current = LoadedOnCoreZero({0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, current, Rebalance(AssignMode::kCycles))),
            (std::vector<size_t>{1, 0, 0, 1, 1, 0}));
}

TEST(AssignModeTest, RebalanceGroupLetsOneHotQueueOwnACore) {
  const auto units = MakeUnits({1, 1, 1, 1});
  const auto current = LoadedOnCoreZero({0.1, 0.9, 0.1, 0.1});
  // The hot queue first, alone on core 0; the others fill core 1 (0.3 < 0.9).
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, current, Rebalance(AssignMode::kGroup))),
            (std::vector<size_t>{1, 0, 1, 1}));
  // Cycles would deal the second-hottest to core 1 and the next one back to it too,
  // then core 0 again: the hot queue shares its core.
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, current, Rebalance(AssignMode::kCycles))),
            (std::vector<size_t>{1, 0, 1, 0}));
}

TEST(AssignModeTest, RoundRobinPlacesNewUnitsByEntryCountIgnoringLoad) {
  Ports ports;
  ports.Add("hot", 1), ports.Add("idle", 3), ports.Add("new", 1);
  CurrentAssignment current{{{"hot", 0}, {0, 0.9}}, {{"idle", 0}, {1, 0.0}}, {{"idle", 1}, {1, 0.0}},
                            {{"idle", 2}, {1, 0.0}}};
  std::vector<ForwardingUnit> units = ports.Units({{0, 1}, {2, 2}});
  AssignOptions options;
  options.mode = AssignMode::kRoundRobin;
  EXPECT_EQ(CoreOf(AssignToCores(units, 2, current, options), {"new", 0}), 0u);
  options.mode = AssignMode::kGroup;
  EXPECT_EQ(CoreOf(AssignToCores(units, 2, current, options), {"new", 0}), 1u);
}

TEST(PinTest, APinnedQueueGoesToItsCoreAndIsolatesIt) {
  const auto units = MakeUnits({1, 1, 1, 1});
  AssignOptions options;
  options.pins[{"a", 2}] = 1;
  // Stable assignment would keep every queue on core 0; the pin moves q2, and its core
  // takes no other queue.
  const auto programs = AssignToCores(units, 2, LoadedOnCoreZero({0, 0, 0, 0}), options);
  EXPECT_EQ(CoreOfUnits(units, programs), (std::vector<size_t>{0, 0, 1, 0}));
  EXPECT_EQ(IsolatedCores(units, 2, options), (std::vector<bool>{false, true}));
  // Unpinned queues that ran on the now isolated core leave it.
  CurrentAssignment on_core_one;
  for (uint16_t q = 0; q < 4; ++q) on_core_one[{"a", q}] = {1, std::nullopt};
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, on_core_one, options)), (std::vector<size_t>{0, 0, 1, 0}));
}

TEST(PinTest, WithoutIsolationOtherQueuesMayShareThePinnedCore) {
  const auto units = MakeUnits({1, 1, 1, 1});
  AssignOptions options;
  options.pins[{"a", 0}] = 1;
  options.isolate_pinned = false;
  // q1 to the empty core 0; q2 ties (one entry each) and takes the lower index; q3 core 1.
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, {}, options)), (std::vector<size_t>{1, 0, 0, 1}));
  EXPECT_EQ(IsolatedCores(units, 2, options), (std::vector<bool>{false, false}));
}

TEST(PinTest, EveryCoreIsolatedLeavesUnpinnedQueuesPolledAnyway) {
  const auto units = MakeUnits({1, 1, 1});
  AssignOptions options;
  options.pins[{"a", 0}] = 0;
  options.pins[{"a", 1}] = 1;
  const auto cores = CoreOfUnits(units, AssignToCores(units, 2, {}, options));
  EXPECT_EQ(cores[0], 0u);
  EXPECT_EQ(cores[1], 1u);
}

TEST(PinTest, AUnitFollowsItsFirstPinnedQueueAndPinsToMissingCoresAreIgnored) {
  const auto units = MakeUnits({3});  // three rx queues writing one tx queue
  AssignOptions options;
  options.pins[{"a", 1}] = 1;
  options.pins[{"a", 2}] = 0;
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, {}, options)), (std::vector<size_t>{1}));
  options.pins = {{{"a", 0}, 5}};
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, {}, options)), (std::vector<size_t>{0}));
}

TEST(PinTest, RebalanceKeepsPins) {
  const auto units = MakeUnits({1, 1, 1, 1});
  AssignOptions options = Rebalance(AssignMode::kRoundRobin);
  options.pins[{"a", 3}] = 0;
  options.isolate_pinned = false;
  // q3 stays pinned to core 0; the others are dealt 0, 1, 0.
  EXPECT_EQ(CoreOfUnits(units, AssignToCores(units, 2, {}, options)), (std::vector<size_t>{0, 1, 0, 0}));
}

TEST(MovesTest, ListsQueuesOnAnotherCoreOnly) {
  const auto units = MakeUnits({1, 1, 1});
  CurrentAssignment current{{{"a", 0}, {0, std::nullopt}}, {{"a", 1}, {0, std::nullopt}}};  // q2 is new
  const auto programs = AssignToCores(units, 2, current, Rebalance(AssignMode::kRoundRobin));
  const auto moves = MovesBetween(current, programs);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].queue, (RxQueueKey{"a", 1}));
  EXPECT_EQ(moves[0].from, 0u);
  EXPECT_EQ(moves[0].to, 1u);
  EXPECT_THAT(MovesBetween(AssignmentOf(programs), programs), IsEmpty());
}

}  // namespace
}  // namespace vhostd
