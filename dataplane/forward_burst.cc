#include "dataplane/forward_burst.h"

#include <rte_cycles.h>

#include <algorithm>
#include <cstring>

namespace vhostd {
namespace {

// How long a backlog may wait for a ring that takes nothing before it is dropped.
uint64_t BacklogPatienceCycles() { return rte_get_tsc_hz(); }  // 1 s

// Sends segments in order: straight to the ring while it takes them, then into the
// backlog (which keeps them in order behind what already waits); past its capacity,
// dropped.
void SendOrQueue(const PollEntry& e, rte_mbuf** pkts, uint16_t count) {
  TxBacklog* b = e.backlog;
  uint16_t done = 0;
  while (done < count && (b == nullptr || b->count == 0)) {
    const uint16_t n = std::min<uint16_t>(kBurstSize, count - done);
    const uint16_t sent = SendCounted(e, &pkts[done], n);
    done += sent;
    if (sent < n) break;  // the ring is full
  }
  if (done == count) return;
  if (b == nullptr) return Drop(e, &pkts[done], count - done);
  const uint16_t keep = std::min<uint16_t>(count - done, TxBacklog::kCapacity - b->count);
  memcpy(&b->pkts[b->count], &pkts[done], keep * sizeof(pkts[0]));
  b->count += keep;
  Drop(e, &pkts[done + keep], count - done - keep);
}

}  // namespace

TxBacklog::~TxBacklog() {
  if (count) rte_pktmbuf_free_bulk(pkts, count);
}

bool DrainBacklog(const PollEntry& e) {
  TxBacklog* b = e.backlog;
  uint16_t sent = 0;
  while (sent < b->count) {
    const uint16_t n = std::min<uint16_t>(kBurstSize, b->count - sent);
    const uint16_t took = SendCounted(e, &b->pkts[sent], n);
    sent += took;
    if (took < n) break;
  }
  if (sent > 0) {
    memmove(b->pkts, &b->pkts[sent], (b->count - sent) * sizeof(b->pkts[0]));
    b->count -= sent;
    b->stuck_since = 0;
  } else {
    const uint64_t now = rte_rdtsc();
    if (b->stuck_since == 0) {
      b->stuck_since = now;
    } else if (now - b->stuck_since > BacklogPatienceCycles()) {
      Drop(e, b->pkts, b->count);  // the peer takes nothing: count it like any drop
      b->count = 0;
      b->stuck_since = 0;
    }
  }
  return b->count == 0;
}

void SendWithOffloads(const PollEntry& e, const OffloadPools& pools, rte_mbuf** pkts, uint16_t count) {
  const uint32_t offloads = e.tx_port.tx_offloads ? e.tx_port.tx_offloads->load(std::memory_order_relaxed) : 0;
  // Room for a whole burst plus one frame's segments: PrepareForTransmit stops before a
  // frame that might not fit, so every round makes progress.
  rte_mbuf* out[kBurstSize + kMaxSegmentsPerFrame];
  uint16_t done = 0;
  while (done < count) {
    const OffloadResult r =
        PrepareForTransmit(&pkts[done], count - done, offloads, pools, out, sizeof(out) / sizeof(out[0]));
    done += r.consumed;
    if (r.dropped) CountDropped(e, r.dropped);
    SendOrQueue(e, out, r.out);
  }
}

}  // namespace vhostd
