// Per-queue packet counters, written by exactly one polling core.
#ifndef VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_
#define VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace vhostd {

// One cache line per queue so two cores never write the same line. Each field has a
// single writer (the core that owns the queue), so an increment is a relaxed load and
// store, never a locked read-modify-write; readers (gRPC, metrics) load relaxed and may
// see a value one burst old. "Reset" is never done in place: counters are monotonic.
struct alignas(64) QueueCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> tx_dropped{0};
  // Receives that found packets waiting but no free packet buffer (ports whose driver
  // does not count this itself, i.e. vhost-user).
  std::atomic<uint64_t> rx_no_mbuf{0};
};

// Adds `n` to a single-writer counter.
inline void CounterAdd(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline uint64_t CounterRead(const std::atomic<uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_QUEUE_COUNTERS_H_
