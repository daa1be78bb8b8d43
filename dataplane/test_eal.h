// DPDK set-up for unit tests that need mbufs or lcores: EAL without hugepages or PCI,
// under a file prefix of its own, so tests never meet a running daemon's memory.
#ifndef VHOSTD_DATAPLANE_TEST_EAL_H_
#define VHOSTD_DATAPLANE_TEST_EAL_H_

struct rte_mempool;

namespace vhostd {

// Initialises EAL once per process with `worker_lcores` worker lcores (they float over
// the online CPUs). Aborts the test binary if EAL cannot start: every test needs it.
void InitTestEal(unsigned worker_lcores = 0);

// A packet-buffer pool of `count` mbufs with the daemon's buffer size, named `name`.
rte_mempool* MakeTestPool(const char* name, unsigned count, unsigned data_room = 2048 + 128);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_TEST_EAL_H_
