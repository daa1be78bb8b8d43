#include "plugins/uplink/uplink_ethdev.h"

#include <rte_config.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include <atomic>
#include <cstdio>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "dataplane/port_pool.h"
#include "dataplane/vdev_port.h"
#include "plugins/uplink/af_xdp_leftovers.h"

namespace vhostd::uplink {
namespace {

constexpr unsigned kCache = 256;
// net_af_xdp keeps this many buffers in its fill ring per queue, beyond PortPoolSize's
// rings (XSK_RING_CONS__DEFAULT_NUM_DESCS).
constexpr unsigned kXdpFillBuffers = 2048;

absl::Status NoPool(const std::string& field, unsigned size) {
  rte_malloc_socket_stats stats{};
  rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &stats);
  return absl::ResourceExhaustedError(absl::StrCat(
      field, ": cannot allocate ", size, " packet buffers in one piece for AF_XDP (about ",
      (uint64_t{size} * (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf))) >> 20, " MiB): ", rte_strerror(rte_errno),
      "; DPDK memory free: ", stats.heap_freesz_bytes >> 20, " MiB, largest piece ", stats.greatest_free_size >> 20,
      " MiB (raise --memory-mb)"));
}

}  // namespace

absl::StatusOr<rte_mempool*> CreateUmemPool(uint16_t queues, const std::string& field) {
  static std::atomic<unsigned> next_id{0};
  const std::string name = absl::StrCat("vhostd_umem_", next_id.fetch_add(1));
  const unsigned size = PortPoolSize(queues, kRingSize) + queues * kXdpFillBuffers;
  // rte_pktmbuf_pool_create() with one flag more: NO_IOVA_CONTIG lets buffers cross page
  // boundaries, so they lie back to back (EAL runs with IOVA as VA: any buffer is fine
  // for the kernel). Its private area is what rte_pktmbuf_pool_init() expects.
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE;
  priv.mbuf_priv_size = 0;
  rte_mempool* pool = rte_mempool_create_empty(name.c_str(), size, sizeof(rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE,
                                               kCache, sizeof(priv), static_cast<int>(rte_socket_id()),
                                               RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (pool == nullptr) return NoPool(field, size);
  auto free_pool = absl::MakeCleanup([pool] { rte_mempool_free(pool); });
  if (rte_mempool_set_ops_byname(pool, rte_mbuf_best_mempool_ops(), nullptr) != 0) return NoPool(field, size);
  rte_pktmbuf_pool_init(pool, &priv);
  if (rte_mempool_populate_default(pool) < 0) return NoPool(field, size);
  // Several chunks would break net_af_xdp's UMEM again (see the header).
  if (pool->nb_mem_chunks != 1) {
    rte_errno = ENOSPC;
    return NoPool(field, size);
  }
  rte_mempool_obj_iter(pool, rte_pktmbuf_init, nullptr);
  std::move(free_pool).Cancel();
  return pool;
}

UplinkEthdev::UplinkEthdev(std::string name, uint16_t port_id, uint16_t queues, rte_mempool* pool,
                           std::set<std::string> leftovers, std::unique_ptr<PacketRingDrops> ring_drops)
    : name_(std::move(name)), port_id_(port_id), queues_(queues), pool_(pool), counters_(new QueueCounters[queues]),
      leftovers_(std::move(leftovers)), ring_drops_(std::move(ring_drops)) {}

void UplinkEthdev::Remove(const std::string& name, const std::set<std::string>& leftovers) {
  // Closes the sockets (for AF_XDP not all: see af_xdp_leftovers.h) and detaches the
  // XDP program.
  rte_vdev_uninit(name.c_str());
  if (const int released = ReleaseXdpKernelObjects(leftovers); released > 0) {
    fprintf(stderr, "uplink: %s: closed %d AF_XDP socket(s) and BPF object(s) DPDK left open\n", name.c_str(),
            released);
  }
}

namespace {

// The kernel objects in `now` that were not in `before`.
std::set<std::string> Appeared(const std::set<std::string>& before, const std::set<std::string>& now) {
  std::set<std::string> appeared;
  for (const std::string& key : now) {
    if (before.count(key) == 0) appeared.insert(key);
  }
  return appeared;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UplinkEthdev>> UplinkEthdev::Create(const std::string& name, const std::string& args,
                                                                   uint16_t queues, rte_mempool* pool) {
  auto release_pool = absl::MakeCleanup([pool] { ReleasePortPool(pool); });
  // The daemon opens one port at a time: AF_XDP sockets and BPF objects that appear
  // now are this device's.
  const std::set<std::string> before = XdpKernelObjects();
  const std::map<int, uint64_t> sockets_before = PacketSockets();
  auto remove_vdev = absl::MakeCleanup([&] { Remove(name, Appeared(before, XdpKernelObjects())); });
  const int rc = rte_vdev_init(name.c_str(), args.c_str());
  if (rc < 0) {
    return absl::FailedPreconditionError(absl::StrCat("could not create DPDK device ", name, ",", args, ": ",
                                                      rte_strerror(-rc)));
  }
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    return absl::InternalError(absl::StrCat("device ", name, " created but has no ethdev port"));
  }
  if (absl::Status started = ConfigureAndStartEthdev(port_id, queues, kRingSize, pool); !started.ok()) return started;
  std::move(remove_vdev).Cancel();
  std::move(release_pool).Cancel();
  return std::unique_ptr<UplinkEthdev>(
      new UplinkEthdev(name, port_id, queues, pool, Appeared(before, XdpKernelObjects()),
                       std::make_unique<PacketRingDrops>(sockets_before, PacketSockets())));
}

UplinkEthdev::~UplinkEthdev() {
  rte_eth_dev_stop(port_id_);
  Remove(name_, leftovers_);
  // Freed once every buffer is back. net_af_xdp does not give back the buffers of its
  // fill ring, so an AF_XDP port's pool stays allocated (see the plugin's notes).
  ReleasePortPool(pool_);
}

DriverStats UplinkEthdev::ReadDriverStats() const {
  rte_eth_stats stats{};
  DriverStats out;
  if (rte_eth_stats_get(port_id_, &stats) != 0) return out;
  // AF_XDP: what the socket dropped for lack of fill-ring buffers or ring space.
  // AF_PACKET: what the kernel dropped for a full receive ring (the PMD doesn't say).
  out.rx_errors = stats.ierrors + stats.imissed + ring_drops_->Total();
  out.tx_errors = stats.oerrors;
  out.rx_no_mbuf = stats.rx_nombuf;
  return out;
}

}  // namespace vhostd::uplink
