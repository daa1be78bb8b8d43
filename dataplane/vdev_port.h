// A DPDK virtual device (vdev) configured as an ethdev with N queue pairs, plus the
// per-queue counters the polling cores keep for it: net_virtio_user (vhost-kernel,
// vDPA) and net_tap (plain-tap fallback). vhost-user ports use lib/vhost directly.
#ifndef VHOSTD_DATAPLANE_VDEV_PORT_H_
#define VHOSTD_DATAPLANE_VDEV_PORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include <rte_config.h>
#include <rte_ethdev.h>

#include "absl/status/statusor.h"
#include "dataplane/queue_counters.h"

namespace vhostd {

struct DriverStats {
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
  uint64_t rx_no_mbuf = 0;
};

// Configures `queues` rx/tx queue pairs of ethdev `port_id` (`ring_size` descriptors
// each, receive buffers from `pool`) and starts it. For plugins whose device needs a
// pool or teardown of its own (the uplink's AF_XDP UMEM) and so can't use VdevPort.
absl::Status ConfigureAndStartEthdev(uint16_t port_id, uint16_t queues, uint16_t ring_size, rte_mempool* pool);

class VdevPort {
 public:
  // Probes vdev `name` with `args`, configures `queues` rx/tx queue pairs whose receive
  // buffers come from a pool of the port's own (port_pool.h), and starts it. On failure
  // nothing is left behind; a pool that can't be allocated is RESOURCE_EXHAUSTED naming
  // `field`.
  static absl::StatusOr<std::unique_ptr<VdevPort>> Create(const std::string& name, const std::string& args,
                                                          uint16_t queues, const std::string& field);
  // Stops the port and removes the vdev. No polling core may still poll it.
  ~VdevPort();

  VdevPort(const VdevPort&) = delete;
  VdevPort& operator=(const VdevPort&) = delete;

  uint16_t port_id() const { return port_id_; }
  uint16_t queues() const { return queues_; }
  rte_mempool* pool() const { return pool_; }
  const std::string& vdev_name() const { return name_; }
  QueueCounters& counters(uint16_t queue) { return counters_[queue]; }
  const QueueCounters& counters(uint16_t queue) const { return counters_[queue]; }

  bool LinkUp() const;
  std::string MacAddress() const;
  DriverStats ReadDriverStats() const;

 private:
  VdevPort(std::string name, uint16_t port_id, uint16_t queues, rte_mempool* pool);

  const std::string name_;
  const uint16_t port_id_;
  const uint16_t queues_;
  rte_mempool* const pool_;  // the receive rings' buffers
  std::unique_ptr<QueueCounters[]> counters_;
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_VDEV_PORT_H_
