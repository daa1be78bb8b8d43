#include "dataplane/forwarding_plan.h"

#include <algorithm>
#include <iterator>
#include <set>

namespace vhostd {
namespace {

ForwardingUnit UnitOf(const PortRef& rx, uint16_t rx_queue, const PortRef& tx) {
  const uint16_t tx_queue = rx_queue % tx.queues;
  PollEntry entry{rx.io, rx_queue, tx.io, tx_queue, &rx.counters[rx_queue], &tx.counters[tx_queue]};
  entry.tx_queues = tx.queues;
  return ForwardingUnit{{entry}, {PollLabel{rx.name, rx_queue, tx.name, tx_queue}}};
}

// One direction, rx -> tx: a unit per receive queue.
void DirectionUnits(const PortRef& rx, const PortRef& tx, std::vector<ForwardingUnit>& units) {
  for (uint16_t q = 0; q < rx.queues; ++q) units.push_back(UnitOf(rx, q, tx));
}

}  // namespace

std::vector<ForwardingUnit> CrossConnectUnits(const PortRef& a, const PortRef& b) {
  // A side with no queue (a frontend that enabled none yet) can neither send nor
  // receive: nothing to forward either way.
  if (a.queues == 0 || b.queues == 0) return {};
  std::vector<ForwardingUnit> units;
  DirectionUnits(a, b, units);
  DirectionUnits(b, a, units);
  return units;
}

CurrentAssignment AssignmentOf(const std::vector<CoreProgram>& programs) {
  CurrentAssignment assignment;
  for (size_t core = 0; core < programs.size(); ++core) {
    for (const PollLabel& label : programs[core].labels) assignment[{label.rx_port, label.rx_queue}] = {core};
  }
  return assignment;
}

namespace {

// The core that polls most of `unit`'s receive queues now (lowest index on ties), if
// any of them is polled by one of the `cores` cores.
std::optional<size_t> HomeCore(const ForwardingUnit& unit, size_t cores, const CurrentAssignment& current) {
  std::vector<size_t> polled(cores, 0);
  for (const PollLabel& label : unit.labels) {
    auto it = current.find({label.rx_port, label.rx_queue});
    if (it != current.end() && it->second.core < cores) ++polled[it->second.core];
  }
  auto most = std::max_element(polled.begin(), polled.end());
  if (most == polled.end() || *most == 0) return std::nullopt;
  return static_cast<size_t>(most - polled.begin());
}

// What a core runs so far, for choosing where new units go.
struct CoreLoad {
  double load = 0;
  size_t entries = 0;
  // Loads compared in kLoadTie steps, then entry counts: a strict order.
  std::pair<int64_t, size_t> Rank() const { return {static_cast<int64_t>(load / kLoadTie), entries}; }
};

// The mean measured load of the queues of `units`, 0 if none is measured.
double MeanLoad(const std::vector<ForwardingUnit>& units, const CurrentAssignment& current) {
  double sum = 0;
  size_t measured = 0;
  for (const ForwardingUnit& unit : units) {
    for (const PollLabel& label : unit.labels) {
      auto it = current.find({label.rx_port, label.rx_queue});
      if (it == current.end() || !it->second.load) continue;
      sum += *it->second.load;
      ++measured;
    }
  }
  return measured ? sum / static_cast<double>(measured) : 0;
}

// `unit`'s load: its queues' measured loads, `guess` for each unmeasured one.
double UnitLoad(const ForwardingUnit& unit, const CurrentAssignment& current, double guess) {
  double load = 0;
  for (const PollLabel& label : unit.labels) {
    auto it = current.find({label.rx_port, label.rx_queue});
    load += it != current.end() && it->second.load ? *it->second.load : guess;
  }
  return load;
}

void Place(const ForwardingUnit& unit, double load, CoreProgram& program, CoreLoad& core) {
  program.entries.insert(program.entries.end(), unit.entries.begin(), unit.entries.end());
  program.labels.insert(program.labels.end(), unit.labels.begin(), unit.labels.end());
  core.load += load;
  core.entries += unit.entries.size();
}

// The core of `unit`'s first pinned queue (in unit order), if any is pinned to one of
// the `cores` cores.
std::optional<size_t> PinnedCore(const ForwardingUnit& unit, size_t cores, const AssignOptions& options) {
  for (const PollLabel& label : unit.labels) {
    auto it = options.pins.find({label.rx_port, label.rx_queue});
    if (it != options.pins.end() && it->second < cores) return it->second;
  }
  return std::nullopt;
}

// The cores unpinned units may go to: those not isolated, or all if every one is.
std::vector<size_t> EligibleCores(const std::vector<bool>& isolated) {
  std::vector<size_t> eligible;
  for (size_t c = 0; c < isolated.size(); ++c) {
    if (!isolated[c]) eligible.push_back(c);
  }
  if (eligible.empty()) {
    for (size_t c = 0; c < isolated.size(); ++c) eligible.push_back(c);
  }
  return eligible;
}

// Where the `nth` unit placed afresh goes, among `eligible` (non-empty).
size_t ChooseCore(const AssignOptions& options, size_t nth, const std::vector<size_t>& eligible,
                  const std::vector<CoreLoad>& loads) {
  const size_t n = eligible.size();
  if (options.rebalance && options.mode == AssignMode::kRoundRobin) return eligible[nth % n];
  if (options.rebalance && options.mode == AssignMode::kCycles) {
    const size_t pos = nth % (2 * n);  // there and back: 0..n-1, n-1..0
    return eligible[pos < n ? pos : 2 * n - 1 - pos];
  }
  size_t least = eligible.front();
  for (size_t c : eligible) {
    const bool better = options.mode == AssignMode::kRoundRobin ? loads[c].entries < loads[least].entries
                                                                : loads[c].Rank() < loads[least].Rank();
    if (better) least = c;
  }
  return least;
}

}  // namespace

std::vector<bool> IsolatedCores(const std::vector<ForwardingUnit>& units, size_t cores, const AssignOptions& options) {
  std::vector<bool> isolated(cores, false);
  if (!options.isolate_pinned) return isolated;
  for (const ForwardingUnit& unit : units) {
    if (std::optional<size_t> pin = PinnedCore(unit, cores, options)) isolated[*pin] = true;
  }
  return isolated;
}

std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores,
                                       const CurrentAssignment& current, const AssignOptions& options) {
  std::vector<CoreProgram> programs(cores);
  if (cores == 0) return programs;
  std::vector<CoreLoad> loads(cores);
  const double guess = MeanLoad(units, current);
  const std::vector<size_t> eligible = EligibleCores(IsolatedCores(units, cores, options));
  std::vector<bool> may_stay(cores, false);
  for (size_t c : eligible) may_stay[c] = true;
  // Pinned units first, then those that stay, so new ones see the load that remains.
  std::vector<std::pair<double, const ForwardingUnit*>> fresh;
  std::vector<const ForwardingUnit*> unpinned;
  for (const ForwardingUnit& unit : units) {
    if (std::optional<size_t> pin = PinnedCore(unit, cores, options)) {
      Place(unit, UnitLoad(unit, current, guess), programs[*pin], loads[*pin]);
    } else {
      unpinned.push_back(&unit);
    }
  }
  for (const ForwardingUnit* unit : unpinned) {
    const double load = UnitLoad(*unit, current, guess);
    std::optional<size_t> home = options.rebalance ? std::nullopt : HomeCore(*unit, cores, current);
    if (home && may_stay[*home]) {
      Place(*unit, load, programs[*home], loads[*home]);
    } else {
      fresh.push_back({load, unit});
    }
  }
  if (options.rebalance && options.mode != AssignMode::kRoundRobin) {
    std::stable_sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  for (size_t i = 0; i < fresh.size(); ++i) {
    const size_t core = ChooseCore(options, i, eligible, loads);
    Place(*fresh[i].second, fresh[i].first, programs[core], loads[core]);
  }
  AssignTxLanes(programs);
  return programs;
}

namespace {

// Core indexes in order, as lanes: lane i is the i-th core of the set.
TxLane LaneOf(const std::set<size_t>& cores, size_t core) {
  return TxLane{static_cast<uint16_t>(std::distance(cores.begin(), cores.find(core))),
                static_cast<uint16_t>(cores.size())};
}

// The cores that send to each member slot of each bridge: those running an entry of
// another member (a bridge never sends a frame back to the port it came from).
using BridgeSenders = std::map<const BridgeView*, std::vector<std::set<size_t>>>;

BridgeSenders BridgeSendersOf(const std::vector<CoreProgram>& programs) {
  std::map<const BridgeView*, std::vector<std::set<size_t>>> on_slot;  // cores running each slot's entries
  for (size_t core = 0; core < programs.size(); ++core) {
    for (const PollEntry& e : programs[core].entries) {
      if (e.bridge == nullptr) continue;
      std::vector<std::set<size_t>>& slots = on_slot[e.bridge];
      slots.resize(std::max<size_t>({slots.size(), e.bridge_slots, e.bridge_slot + size_t{1}}));
      slots[e.bridge_slot].insert(core);
    }
  }
  BridgeSenders senders;
  for (const auto& [bridge, slots] : on_slot) {
    std::vector<std::set<size_t>>& to = senders[bridge];
    to.resize(slots.size());
    for (size_t dst = 0; dst < slots.size(); ++dst) {
      for (size_t src = 0; src < slots.size(); ++src) {
        if (src != dst) to[dst].insert(slots[src].begin(), slots[src].end());
      }
    }
  }
  return senders;
}

// A bridge entry's lanes on every member, for the entries of `bridge` on `core`.
std::vector<TxLane> BridgeLanes(const std::vector<std::set<size_t>>& senders, size_t core) {
  std::vector<TxLane> lanes(senders.size());
  for (size_t slot = 0; slot < senders.size(); ++slot) {
    if (senders[slot].count(core)) lanes[slot] = LaneOf(senders[slot], core);
  }
  return lanes;
}

}  // namespace

void AssignTxLanes(std::vector<CoreProgram>& programs) {
  std::map<const void*, std::set<size_t>> senders;  // cross-connects: tx port -> cores
  for (size_t core = 0; core < programs.size(); ++core) {
    for (const PollEntry& e : programs[core].entries) {
      if (e.bridge == nullptr) senders[e.tx_port.context].insert(core);
    }
  }
  const BridgeSenders bridge_senders = BridgeSendersOf(programs);
  for (size_t core = 0; core < programs.size(); ++core) {
    CoreProgram& program = programs[core];
    program.lane_tables.clear();
    std::map<const BridgeView*, const TxLane*> tables;  // this core's, per bridge
    for (size_t i = 0; i < program.entries.size(); ++i) {
      PollEntry& e = program.entries[i];
      if (e.bridge != nullptr) {
        auto [it, added] = tables.emplace(e.bridge, nullptr);
        if (added) {
          program.lane_tables.push_back(
              std::make_shared<const std::vector<TxLane>>(BridgeLanes(bridge_senders.at(e.bridge), core)));
          it->second = program.lane_tables.back()->data();
        }
        e.bridge_lanes = it->second;
        continue;
      }
      if (e.tx_queues == 0) continue;  // made by hand: keeps its queue
      const TxChoice choice = TxQueueFor(LaneOf(senders.at(e.tx_port.context), core), e.rx_queue, e.tx_queues);
      // tx_counters points into the tx port's array of tx_queues counters.
      e.tx_counters += static_cast<ptrdiff_t>(choice.queue) - static_cast<ptrdiff_t>(e.tx_queue);
      e.tx_queue = choice.queue;
      e.tx_shared = choice.shared;
      program.labels[i].tx_queue = choice.queue;
    }
  }
}

std::vector<QueueMove> MovesBetween(const CurrentAssignment& current, const std::vector<CoreProgram>& programs) {
  std::vector<QueueMove> moves;
  for (const auto& [queue, next] : AssignmentOf(programs)) {
    auto it = current.find(queue);
    if (it != current.end() && it->second.core != next.core) moves.push_back({queue, it->second.core, next.core});
  }
  return moves;
}

}  // namespace vhostd
