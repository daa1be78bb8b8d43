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

}  // namespace

std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores,
                                       const CurrentAssignment& current) {
  std::vector<CoreProgram> programs(cores);
  if (cores == 0) return programs;
  std::vector<CoreLoad> loads(cores);
  const double guess = MeanLoad(units, current);
  // Units that run now stay first, so new ones see the load that remains.
  std::vector<const ForwardingUnit*> fresh;
  for (const ForwardingUnit& unit : units) {
    if (std::optional<size_t> home = HomeCore(unit, cores, current)) {
      Place(unit, UnitLoad(unit, current, guess), programs[*home], loads[*home]);
    } else {
      fresh.push_back(&unit);
    }
  }
  for (const ForwardingUnit* unit : fresh) {
    size_t least = 0;
    for (size_t c = 1; c < cores; ++c) {
      if (loads[c].Rank() < loads[least].Rank()) least = c;
    }
    Place(*unit, UnitLoad(*unit, current, guess), programs[least], loads[least]);
  }
  return programs;
}

}  // namespace vhostd
