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

}  // namespace

std::vector<ForwardingUnit> CrossConnectUnits(const PortRef& a, const PortRef& b) {
  const uint16_t groups = std::min(a.queues, b.queues);
  // A side with no queue (a frontend that enabled none yet) can neither send nor
  // receive: nothing to forward either way.
  if (groups == 0) return {};
  std::vector<ForwardingUnit> units(groups);
  for (uint16_t q = 0; q < std::max(a.queues, b.queues); ++q) {
    ForwardingUnit& unit = units[q % groups];
    if (q < a.queues) AddEntry(unit, a, q, b);
    if (q < b.queues) AddEntry(unit, b, q, a);
  }
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
