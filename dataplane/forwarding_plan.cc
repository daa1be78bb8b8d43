#include "dataplane/forwarding_plan.h"

#include <algorithm>

namespace vhostd {
namespace {

void AddEntry(ForwardingUnit& unit, const PortRef& rx, uint16_t rx_queue, const PortRef& tx) {
  const uint16_t tx_queue = rx_queue % tx.queues;
  unit.entries.push_back(PollEntry{rx.io, rx_queue, tx.io, tx_queue, &rx.counters[rx_queue],
                                   &tx.counters[tx_queue]});
  unit.labels.push_back(PollLabel{rx.name, rx_queue, tx.name, tx_queue});
}

// One direction, rx -> tx: unit i holds the receive queues that write tx queue i.
void DirectionUnits(const PortRef& rx, const PortRef& tx, std::vector<ForwardingUnit>& units) {
  const size_t first = units.size();
  units.resize(first + std::min(rx.queues, tx.queues));
  for (uint16_t q = 0; q < rx.queues; ++q) AddEntry(units[first + q % tx.queues], rx, q, tx);
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
  return programs;
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
