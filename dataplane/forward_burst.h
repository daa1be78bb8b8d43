// The polling loop's unit of work: receive one burst from a queue and send it on.
#ifndef VHOSTD_DATAPLANE_FORWARD_BURST_H_
#define VHOSTD_DATAPLANE_FORWARD_BURST_H_

#include <rte_config.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include <cstdint>

#include "dataplane/forwarding_plan.h"
#include "dataplane/offload.h"

namespace vhostd {

// Packets a core asks for per receive call.
inline constexpr uint16_t kBurstSize = 32;

// Segments of large frames that the transmit ring had no room for yet. Software
// segmentation turns one burst of 64 KiB frames into ~1,400 packets, far more than a
// guest's 256-entry ring holds at once; dropping the rest would make TCP stall on
// retransmission timeouts. So they wait here, the entry receives nothing more until
// they are sent (back-pressure on the sender's ring), and only a ring that takes
// nothing for a second gets them dropped. One per PollEntry, touched only by
// the core running it; freed with its program.
struct TxBacklog {
  static constexpr uint16_t kCapacity = kBurstSize * 64;
  rte_mbuf* pkts[kCapacity];
  uint16_t count = 0;
  uint64_t stuck_since = 0;  // TSC of the last send that made no progress, 0 if none
  ~TxBacklog();
};

// Sends what waits in e's backlog; true once it is empty.
bool DrainBacklog(const PollEntry& e);
// Sends `pkts` on e's transmit queue after completing their offloads for it (the slow
// path of ForwardBurst; out of line). Counts what was sent and dropped.
void SendWithOffloads(const PollEntry& e, const OffloadPools& pools, rte_mbuf** pkts, uint16_t count);

// Sends `pkts`; returns how many the transmit queue took, counting them. A queue that
// other cores write too is sent to under its lock (drivers allow one writer at a time).
inline uint16_t SendCounted(const PollEntry& e, rte_mbuf** pkts, uint16_t count) {
  const bool shared = e.tx_shared;
  if (__builtin_expect(shared, 0)) rte_spinlock_lock(&e.tx_counters->tx_lock);
  const uint16_t sent = e.tx_port.tx(e.tx_port.context, e.tx_queue, pkts, count);
  if (__builtin_expect(shared, 0)) rte_spinlock_unlock(&e.tx_counters->tx_lock);
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < sent; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
  CounterAdd(e.tx_counters->tx_packets, sent, shared);
  CounterAdd(e.tx_counters->tx_bytes, bytes, shared);
  return sent;
}

// Counts `count` packets for e's transmit queue as dropped.
inline void CountDropped(const PollEntry& e, uint64_t count) { CounterAdd(e.tx_counters->tx_dropped, count, e.tx_shared); }

// Frees packets that will not be sent, counting them as dropped.
inline void Drop(const PollEntry& e, rte_mbuf** pkts, uint16_t count) {
  if (count == 0) return;
  rte_pktmbuf_free_bulk(pkts, count);
  CountDropped(e, count);
}

// Sends `pkts` as they are; what the transmit queue refuses is dropped.
inline void SendBurst(const PollEntry& e, rte_mbuf** pkts, uint16_t count) {
  const uint16_t sent = SendCounted(e, pkts, count);
  Drop(e, &pkts[sent], count - sent);
}

// Receives up to kBurstSize packets from e's receive queue into `pkts`, counting them.
inline uint16_t ReceiveCounted(const PollEntry& e, rte_mbuf** pkts) {
  const uint16_t received = e.rx_port.rx(e.rx_port.context, e.rx_queue, pkts, kBurstSize);
  if (received == 0) return 0;  // an empty poll writes nothing
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < received; ++i) bytes += rte_pktmbuf_pkt_len(pkts[i]);
  CounterAdd(e.rx_counters->rx_packets, received);
  CounterAdd(e.rx_counters->rx_bytes, bytes);
  return received;
}

// Receives one burst and sends it on. Returns the number of packets received.
inline uint16_t ForwardBurst(const PollEntry& e, const OffloadPools& pools) {
  if (__builtin_expect(e.backlog != nullptr && e.backlog->count != 0, 0) && !DrainBacklog(e)) return 0;
  rte_mbuf* pkts[kBurstSize];
  const uint16_t received = ReceiveCounted(e, pkts);
  if (received == 0) return 0;
  if (__builtin_expect(AnyPendingOffload(pkts, received), 0)) {
    SendWithOffloads(e, pools, pkts, received);
  } else {
    SendBurst(e, pkts, received);
  }
  return received;
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_FORWARD_BURST_H_
