#include "dataplane/vdev_port.h"

#include <rte_config.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/capabilities.h"
#include "dataplane/port_pool.h"

namespace vhostd {
namespace {

// Descriptor counts are hints for virtual devices: net_tap ignores them, virtio_user
// uses them as its ring size.
constexpr uint16_t kRingSize = 1024;

}  // namespace

absl::Status ConfigureAndStartEthdev(uint16_t port_id, uint16_t queues, uint16_t ring_size, rte_mempool* pool) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port_id, queues, queues, &conf);
  if (rc < 0) return absl::InternalError(absl::StrCat("rte_eth_dev_configure: ", rte_strerror(-rc)));
  const int socket = rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, ring_size, socket, nullptr, pool);
    if (rc < 0) return absl::InternalError(absl::StrCat("rx queue ", q, " setup: ", rte_strerror(-rc)));
    rc = rte_eth_tx_queue_setup(port_id, q, ring_size, socket, nullptr);
    if (rc < 0) return absl::InternalError(absl::StrCat("tx queue ", q, " setup: ", rte_strerror(-rc)));
  }
  rc = rte_eth_dev_start(port_id);
  if (rc < 0) return absl::InternalError(absl::StrCat("rte_eth_dev_start: ", rte_strerror(-rc)));
  return absl::OkStatus();
}

VdevPort::VdevPort(std::string name, uint16_t port_id, uint16_t queues, rte_mempool* pool)
    : name_(std::move(name)), port_id_(port_id), queues_(queues), pool_(pool), counters_(new QueueCounters[queues]) {}

absl::StatusOr<std::unique_ptr<VdevPort>> VdevPort::Create(const std::string& name, const std::string& args,
                                                           uint16_t queues, const std::string& field) {
  absl::StatusOr<rte_mempool*> pool = CreatePortPool(queues, kRingSize, field);
  if (!pool.ok()) return pool.status();
  auto release_pool = absl::MakeCleanup([&] { ReleasePortPool(*pool); });
  int rc = rte_vdev_init(name.c_str(), args.c_str());
  if (rc < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("could not create DPDK device ", name, ",", args, ": ", rte_strerror(-rc),
                     " (see the daemon log for the driver's reason", LacksCapabilityNote(CAP_NET_ADMIN, "CAP_NET_ADMIN"),
                     ")"));
  }
  auto remove_vdev = absl::MakeCleanup([&] { rte_vdev_uninit(name.c_str()); });
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    return absl::InternalError(absl::StrCat("device ", name, " created but has no ethdev port"));
  }
  if (absl::Status started = ConfigureAndStartEthdev(port_id, queues, kRingSize, *pool); !started.ok()) return started;
  std::move(remove_vdev).Cancel();
  std::move(release_pool).Cancel();
  return std::unique_ptr<VdevPort>(new VdevPort(name, port_id, queues, *pool));
}

VdevPort::~VdevPort() {
  rte_eth_dev_stop(port_id_);
  // Removing the vdev closes the ethdev (for virtio_user and net_tap, the tap goes too)
  // and returns its ring buffers to the pool.
  rte_vdev_uninit(name_.c_str());
  ReleasePortPool(pool_);
}

bool VdevPort::LinkUp() const {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_id_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

std::string VdevPort::MacAddress() const {
  rte_ether_addr addr{};
  if (rte_eth_macaddr_get(port_id_, &addr) != 0) return "";
  const uint8_t* b = addr.addr_bytes;
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

DriverStats VdevPort::ReadDriverStats() const {
  rte_eth_stats stats{};
  DriverStats out;
  if (rte_eth_stats_get(port_id_, &stats) != 0) return out;
  out.rx_errors = stats.ierrors;
  out.tx_errors = stats.oerrors;
  out.rx_no_mbuf = stats.rx_nombuf;
  return out;
}

}  // namespace vhostd
