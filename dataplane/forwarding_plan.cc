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

std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores) {
  std::vector<CoreProgram> programs(cores);
  if (cores == 0) return programs;
  for (const ForwardingUnit& unit : units) {
    auto least = std::min_element(programs.begin(), programs.end(), [](const CoreProgram& x, const CoreProgram& y) {
      return x.entries.size() < y.entries.size();
    });
    least->entries.insert(least->entries.end(), unit.entries.begin(), unit.entries.end());
    least->labels.insert(least->labels.end(), unit.labels.begin(), unit.labels.end());
  }
  return programs;
}

}  // namespace vhostd
