// The polling loop's step for a bridge port's receive queue: receive a burst, apply the
// port's VLAN rule, learn source addresses, and send each frame to the port its
// destination was learned on, or flood it (broadcast, multicast, unknown unicast) to
// every other port of its VLAN. Never back to the port it came from (no hair-pinning).
//
// Transmit queues: the queue an entry writes on each destination follows its core's
// lane there (BridgeTxQueue, tx_lanes.h): q mod n for a core sending alone, queues of
// its own while the port has enough for its senders, else one shared under its lock.
//
// Flooding shares a frame between destinations by reference count when they all
// take it as it is. A destination that needs the tag changed (a trunk gets a tag an
// access port's frame lacks, an access port gets it removed) cannot share those
// bytes, so such destinations share one copy (rte_pktmbuf_copy) edited once. A frame
// with offloads pending (partial checksum, TSO) is completed in place on transmit,
// so it is never shared: every further destination gets its own copy.
#ifndef VHOSTD_DATAPLANE_BRIDGE_FORWARD_H_
#define VHOSTD_DATAPLANE_BRIDGE_FORWARD_H_

#include <cstdint>

#include "dataplane/bridge.h"
#include "dataplane/forwarding_plan.h"
#include "dataplane/offload.h"

namespace vhostd {

// The tx queue entry `e` (of a bridge) writes on member `slot`, which takes traffic.
inline TxChoice BridgeTxQueue(const PollEntry& e, uint16_t slot) {
  return TxQueueFor(e.bridge_lanes ? e.bridge_lanes[slot] : TxLane{}, e.rx_queue, e.bridge->members[slot].queues);
}

// Receives one burst from e's queue and forwards it through e.bridge. Returns the
// number of packets received. `pools.direct` provides the copies flooding needs.
uint16_t BridgeBurst(const PollEntry& e, const OffloadPools& pools);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_BRIDGE_FORWARD_H_
