#include "dataplane/port_pool.h"

#include <rte_config.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace vhostd {
namespace {

constexpr unsigned kCache = 256;
constexpr unsigned kMargin = 512;  // bursts in the polling loop, GSO headers

struct Retired {
  absl::Mutex mu;
  std::vector<rte_mempool*> pools ABSL_GUARDED_BY(mu);
};

Retired& RetiredList() {
  static Retired* retired = new Retired;  // never destroyed: ports close after static teardown
  return *retired;
}

void FreeIdlePools() {
  Retired& r = RetiredList();
  absl::MutexLock lock(&r.mu);
  std::vector<rte_mempool*> still_used;
  for (rte_mempool* pool : r.pools) {
    if (rte_mempool_full(pool)) {
      rte_mempool_free(pool);
    } else {
      still_used.push_back(pool);
    }
  }
  r.pools.swap(still_used);
}

uint64_t FreeDpdkMemory() {
  rte_malloc_socket_stats stats{};
  if (rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &stats) != 0) return 0;
  return stats.heap_freesz_bytes;
}

}  // namespace

unsigned PortPoolSize(uint16_t queues, uint16_t ring_size) {
  return 2u * queues * ring_size + rte_lcore_count() * kCache + kMargin;
}

absl::StatusOr<rte_mempool*> CreatePortPool(uint16_t queues, uint16_t ring_size, const std::string& field) {
  FreeIdlePools();
  static std::atomic<unsigned> next_id{0};
  const std::string name = absl::StrCat("vhostd_port_", next_id.fetch_add(1));
  const unsigned size = PortPoolSize(queues, ring_size);
  rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), size, kCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    const uint64_t needed = uint64_t{size} * (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf));
    return absl::ResourceExhaustedError(absl::StrCat(
        field, ": cannot allocate ", size, " packet buffers (about ", needed >> 20, " MiB) for ", queues,
        " queue pairs: ", rte_strerror(rte_errno), "; DPDK memory free: ", FreeDpdkMemory() >> 20,
        " MiB (raise --memory-mb, or use fewer queues)"));
  }
  return pool;
}

void ReleasePortPool(rte_mempool* pool) {
  if (pool != nullptr) {
    Retired& r = RetiredList();
    absl::MutexLock lock(&r.mu);
    r.pools.push_back(pool);
  }
  FreeIdlePools();
}

size_t RetiredPortPools() {
  Retired& r = RetiredList();
  absl::MutexLock lock(&r.mu);
  return r.pools.size();
}

}  // namespace vhostd
