// What the polling cores run for a bridge: one entry per receive queue of each port
// that takes traffic, grouped so that every transmit queue keeps a single writer.
#ifndef VHOSTD_DATAPLANE_BRIDGE_PLAN_H_
#define VHOSTD_DATAPLANE_BRIDGE_PLAN_H_

#include <string>
#include <vector>

#include "dataplane/bridge.h"
#include "dataplane/forwarding_plan.h"

namespace vhostd {

// The label a bridge entry shows as the place it forwards to ("bridge:NAME").
std::string BridgeLabel(const std::string& bridge);

// Units for `bridge` (which must outlive the programs made of them). The entry for
// receive queue q may send on queue q mod n of every port with n queues, so two
// entries whose queues are equal modulo some port's queue count share a unit (and a
// core). Ports with equal queue counts n make n units, one per queue index; ports
// with one queue make one unit for the whole bridge.
std::vector<ForwardingUnit> BridgeUnits(const BridgeView& bridge);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_BRIDGE_PLAN_H_
