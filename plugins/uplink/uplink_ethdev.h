// The DPDK device behind an uplink port (net_af_xdp or net_af_packet), started with the
// packet pool its PMD needs, plus the per-queue counters the polling cores keep.
//
// dataplane's VdevPort does the same but always makes its pool itself, and DPDK 22.11's
// net_af_xdp cannot use that pool: it registers the pool's memory with the kernel as
// its UMEM assuming the buffers lie back to back (populated count x object size from
// the first chunk), while a pool made by rte_pktmbuf_pool_create() without hugepages
// keeps every buffer inside one 4 KiB page, one per page. The kernel then refuses every
// buffer past ~58 % of the pool as outside the UMEM: transmits vanish and receive
// buffers leak (fixed upstream in DPDK 24.07, "net/af_xdp: parse UMEM map info from
// mempool"). CreateUmemPool() makes a pool that is one chunk of back-to-back buffers.
#ifndef VHOSTD_PLUGINS_UPLINK_UPLINK_ETHDEV_H_
#define VHOSTD_PLUGINS_UPLINK_UPLINK_ETHDEV_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/queue_counters.h"
#include "dataplane/vdev_port.h"  // DriverStats
#include "plugins/uplink/packet_ring_drops.h"

struct rte_mempool;

namespace vhostd::uplink {

// Ring size of the PMDs' queues (AF_XDP: its rx and tx rings; AF_PACKET ignores it).
inline constexpr uint16_t kRingSize = 1024;

// A pool net_af_xdp can take as its UMEM for `queues` queue pairs: buffers back to back
// in one virtually contiguous chunk. RESOURCE_EXHAUSTED naming `field` if DPDK has no
// such chunk.
absl::StatusOr<rte_mempool*> CreateUmemPool(uint16_t queues, const std::string& field);

class UplinkEthdev {
 public:
  // Probes vdev `name` with `args`, configures `queues` queue pairs receiving into
  // `pool` and starts it. Takes the pool (given back through ReleasePortPool when the
  // device goes, or on failure). On failure nothing else is left behind.
  static absl::StatusOr<std::unique_ptr<UplinkEthdev>> Create(const std::string& name, const std::string& args,
                                                              uint16_t queues, rte_mempool* pool);
  // Stops the device and removes the vdev. No polling core may still poll it.
  ~UplinkEthdev();
  UplinkEthdev(const UplinkEthdev&) = delete;
  UplinkEthdev& operator=(const UplinkEthdev&) = delete;

  uint16_t port_id() const { return port_id_; }
  uint16_t queues() const { return queues_; }
  QueueCounters* counters() { return counters_.get(); }
  DriverStats ReadDriverStats() const;

 private:
  UplinkEthdev(std::string name, uint16_t port_id, uint16_t queues, rte_mempool* pool,
               std::set<std::string> leftovers, std::unique_ptr<PacketRingDrops> ring_drops);
  // Removes vdev `name` and what of it DPDK leaves open (af_xdp_leftovers.h).
  static void Remove(const std::string& name, const std::set<std::string>& leftovers);

  const std::string name_;
  const uint16_t port_id_;
  const uint16_t queues_;
  rte_mempool* const pool_;
  std::unique_ptr<QueueCounters[]> counters_;
  const std::set<std::string> leftovers_;  // the device's AF_XDP sockets (xsk_sockets.h)
  const std::unique_ptr<PacketRingDrops> ring_drops_;  // net_af_packet's sockets (none for AF_XDP)
};

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_UPLINK_ETHDEV_H_
