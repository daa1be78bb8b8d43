// What the polling cores run for a bridge: one entry per receive queue of each port
// that takes traffic.
#ifndef VHOSTD_DATAPLANE_BRIDGE_PLAN_H_
#define VHOSTD_DATAPLANE_BRIDGE_PLAN_H_

#include <string>
#include <vector>

#include "dataplane/bridge.h"
#include "dataplane/forwarding_plan.h"

namespace vhostd {

// The label a bridge entry shows as the place it forwards to ("bridge:NAME").
std::string BridgeLabel(const std::string& bridge);

// Units for `bridge` (which must outlive the programs made of them): one per receive
// queue of every member that takes traffic, in slot order, so the queues of a bridge
// spread over cores like any others. Which tx queue of each member an entry writes
// follows from the core it runs on (AssignTxLanes, TxQueueFor).
std::vector<ForwardingUnit> BridgeUnits(const BridgeView& bridge);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_BRIDGE_PLAN_H_
