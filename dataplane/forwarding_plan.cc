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

void Place(const ForwardingUnit& unit, CoreProgram& program) {
  program.entries.insert(program.entries.end(), unit.entries.begin(), unit.entries.end());
  program.labels.insert(program.labels.end(), unit.labels.begin(), unit.labels.end());
}

}  // namespace

std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores,
                                       const CurrentAssignment& current) {
  std::vector<CoreProgram> programs(cores);
  if (cores == 0) return programs;
  // Units that run now stay first, so new ones see the load that remains.
  std::vector<const ForwardingUnit*> fresh;
  for (const ForwardingUnit& unit : units) {
    if (std::optional<size_t> home = HomeCore(unit, cores, current)) {
      Place(unit, programs[*home]);
    } else {
      fresh.push_back(&unit);
    }
  }
  for (const ForwardingUnit* unit : fresh) {
    auto least = std::min_element(programs.begin(), programs.end(), [](const CoreProgram& x, const CoreProgram& y) {
      return x.entries.size() < y.entries.size();
    });
    Place(*unit, *least);
  }
  return programs;
}

}  // namespace vhostd
