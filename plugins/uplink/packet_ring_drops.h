// What net_af_packet's sockets dropped on receive. DPDK 22.11's net_af_packet reports
// no receive drops (its eth_stats_get() sets no imissed), but the kernel drops a frame
// that arrives while a socket's PACKET_MMAP receive ring is full, i.e. while the polling
// core has fallen behind (tpacket_rcv(), counted in the socket's tp_drops). The
// interface's own counters include such a frame and vhostd never sees it, so without
// this an uplink's receive count falls short of the interface's with nothing to say why.
//
// The PMD's sockets are private to it; like af_xdp_leftovers, they are found as the
// AF_PACKET descriptors that appeared while the device was made. The kernel's count is
// read with getsockopt(PACKET_STATISTICS), which also resets it, so it is accumulated
// here.
#ifndef VHOSTD_PLUGINS_UPLINK_PACKET_RING_DROPS_H_
#define VHOSTD_PLUGINS_UPLINK_PACKET_RING_DROPS_H_

#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vhostd::uplink {

// This process's AF_PACKET sockets: {descriptor: socket inode}.
std::map<int, uint64_t> PacketSockets();

class PacketRingDrops {
 public:
  // Counts for the sockets in `now` that were not in `before` (the device's).
  PacketRingDrops(const std::map<int, uint64_t>& before, const std::map<int, uint64_t>& now);

  // Frames the sockets dropped since they were made. Only while the device (which owns
  // the descriptors) exists; a descriptor that is no longer the same socket is skipped.
  uint64_t Total() const;

  size_t sockets() const { return sockets_.size(); }

 private:
  std::map<int, uint64_t> sockets_;  // descriptor: inode
  mutable absl::Mutex mutex_;        // ReadDriverStats runs on any control thread
  mutable uint64_t total_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_PACKET_RING_DROPS_H_
