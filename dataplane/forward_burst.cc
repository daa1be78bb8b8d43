#include "dataplane/forward_burst.h"

namespace vhostd {

void SendWithOffloads(const PollEntry& e, const OffloadPools& pools, rte_mbuf** pkts, uint16_t count) {
  const uint32_t offloads = e.tx_port.tx_offloads ? e.tx_port.tx_offloads->load(std::memory_order_relaxed) : 0;
  // Room for a whole burst plus one frame's segments: PrepareForTransmit stops before a
  // frame that might not fit, so every round makes progress.
  rte_mbuf* out[kBurstSize + kMaxSegmentsPerFrame];
  uint16_t done = 0;
  while (done < count) {
    const OffloadResult r = PrepareForTransmit(&pkts[done], count - done, offloads, pools, out, sizeof(out) / sizeof(out[0]));
    done += r.consumed;
    if (r.dropped) CounterAdd(e.tx_counters->tx_dropped, r.dropped);
    for (uint16_t sent = 0; sent < r.out; sent += kBurstSize) {
      SendBurst(e, &out[sent], std::min<uint16_t>(kBurstSize, r.out - sent));
    }
  }
}

}  // namespace vhostd
