// Per-queue packet counters, and the lock of a transmit queue that cores share.
#ifndef VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_
#define VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_

#include <rte_config.h>
#include <rte_spinlock.h>

#include <atomic>
#include <cstdint>

namespace vhostd {

// One cache line per queue pair. The rx fields have a single writer (the core polling
// the rx queue), and so do the tx fields while one core writes the tx queue: then an
// increment is a relaxed load and store, never a locked read-modify-write. When cores
// share the tx queue (tx_lanes.h), they send under `tx_lock` and add to the tx fields
// atomically. Readers (gRPC, metrics) load relaxed and may see a value one burst old.
// "Reset" is never done in place: counters are monotonic.
struct alignas(64) QueueCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> tx_dropped{0};
  // Receives that found packets waiting but no free packet buffer (ports whose driver
  // does not count this itself, i.e. vhost-user).
  std::atomic<uint64_t> rx_no_mbuf{0};
  // Held around a transmit call by cores that share the tx queue; never by a sole writer.
  rte_spinlock_t tx_lock = RTE_SPINLOCK_INITIALIZER;
};
static_assert(sizeof(QueueCounters) == 64, "one cache line per queue");

// Adds `n` to a single-writer counter.
inline void CounterAdd(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Adds `n` to a counter that several cores may write when `shared`.
inline void CounterAdd(std::atomic<uint64_t>& counter, uint64_t n, bool shared) {
  if (__builtin_expect(shared, 0)) {
    counter.fetch_add(n, std::memory_order_relaxed);
  } else {
    CounterAdd(counter, n);
  }
}

inline uint64_t CounterRead(const std::atomic<uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_
