// Packet-buffer pools owned by one ethdev-backed port. A port's receive rings hold
// buffers permanently (a 1024-entry ring keeps 1024 mbufs filled), so one shared pool
// would be drained by a few multiqueue ports and starve everyone else; each port gets
// a pool sized from its own rings instead, and a port that can't be backed is refused.
#ifndef VHOSTD_DATAPLANE_PORT_POOL_H_
#define VHOSTD_DATAPLANE_PORT_POOL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

struct rte_mempool;

namespace vhostd {

// Buffers a port with `queues` queue pairs of `ring_size` descriptors needs: its receive
// rings full, as many again in flight in the rings of the ports it sends to, plus the
// per-core caches and a margin for bursts being processed.
unsigned PortPoolSize(uint16_t queues, uint16_t ring_size);

// Creates such a pool. Errors are RESOURCE_EXHAUSTED naming `field`, the size asked for
// and the DPDK memory left.
absl::StatusOr<rte_mempool*> CreatePortPool(uint16_t queues, uint16_t ring_size, const std::string& field);

// Gives back a closed port's pool. Its buffers may still sit in another port's transmit
// ring, so the pool is freed only once every buffer has come back; until then it waits
// in a list that each later call (and CreatePortPool) sweeps; nullptr only sweeps.
void ReleasePortPool(rte_mempool* pool);

// Pools released but not yet freed (tests, status).
size_t RetiredPortPools();

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PORT_POOL_H_
