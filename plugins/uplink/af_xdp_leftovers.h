// Finds and releases what DPDK 22.11's net_af_xdp leaves open when its device is
// removed, so that deleting an AF_XDP port gives the interface back.
//
// - Its eth_dev_close() decides whether to destroy a queue's UMEM with
//   `__atomic_sub_fetch(&refcnt, 1) - 1 == 0`, never true for the last user (a 22.11.5
//   stable backport, "net/af_xdp: fix leak on XSK configuration failure", made the
//   test that; DPDK 23.07 has it right). The UMEM's socket, the one the queue was bound
//   with, stays open with its fill and completion rings mapped: the interface's queue
//   stays taken until the process ends (the next AF_XDP port on it fails with EBUSY),
//   and the pool's pages stay pinned.
// - With xdp_prog=FILE it never closes the BPF object it loaded (program and map
//   descriptors stay open after the program is detached), nor the BTF it loaded with
//   it: one more descriptor per device.
//
// What is left is only reachable through the process's descriptor table and memory
// map, so that is where it is found: the AF_XDP sockets and BPF objects that appeared
// while the device was made, released once the device is gone. A DPDK that cleans up
// after itself leaves nothing, and then nothing is done.
#ifndef VHOSTD_PLUGINS_UPLINK_AF_XDP_LEFTOVERS_H_
#define VHOSTD_PLUGINS_UPLINK_AF_XDP_LEFTOVERS_H_

#include <set>
#include <string>

#include "absl/time/time.h"

namespace vhostd::uplink {

// This process's AF_XDP sockets and BPF programs and maps, as keys that stay the same
// while the object lives ("xsk:INODE", "bpf-prog:ID", "bpf-map:ID", "btf:ID").
std::set<std::string> XdpKernelObjects();

// Releases the objects `keys` that are still open: unmaps a socket's mappings (they
// hold its file too) and closes the descriptors. Returns how many were released.
// Called once the device that made them is gone (with every key it made).
int ReleaseXdpKernelObjects(const std::set<std::string>& keys);

// The kernel unbinds a closed AF_XDP socket's queue later, in a workqueue
// (xp_release_deferred() takes the RTNL lock): an AF_XDP device made right after one
// was removed may find the queue still taken (EBUSY, which net_af_xdp does not report).
// How long ago this process last released AF_XDP sockets, and how long to keep trying.
absl::Duration SinceLastXskRelease();
inline constexpr absl::Duration kXskReleaseGrace = absl::Seconds(3);

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_AF_XDP_LEFTOVERS_H_
