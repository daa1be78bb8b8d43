#include "dataplane/bridge_plan.h"

namespace vhostd {

std::string BridgeLabel(const std::string& bridge) { return "bridge:" + bridge; }

std::vector<ForwardingUnit> BridgeUnits(const BridgeView& bridge) {
  std::vector<ForwardingUnit> units;
  for (uint16_t slot = 0; slot < bridge.members.size(); ++slot) {
    const BridgeMember& m = bridge.members[slot];
    if (!TakesTraffic(m)) continue;
    for (uint16_t q = 0; q < m.queues; ++q) {
      // tx_port is the port itself, which the entry never writes; what it writes on
      // each member follows from its bridge_lanes (AssignTxLanes).
      PollEntry entry{m.io, q, m.io, q, &m.counters[q], &m.counters[q]};
      entry.bridge = &bridge;
      entry.bridge_slot = slot;
      entry.bridge_slots = static_cast<uint16_t>(bridge.members.size());
      units.push_back(ForwardingUnit{{entry}, {PollLabel{m.name, q, BridgeLabel(bridge.name), q}}});
    }
  }
  return units;
}

}  // namespace vhostd
