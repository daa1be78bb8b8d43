// Checksum and segmentation offload between ports that negotiated different things.
//
// A vhost-user frontend (Linux virtio-net) may send TCP/UDP with only a partial checksum
// (VIRTIO_NET_F_CSUM) and, with TSO, frames of up to 64 KiB (HOST_TSO4). lib/vhost marks
// such mbufs RX_L4_CKSUM_NONE (and RX_LRO with tso_segsz); the receiving port writes its
// virtio_net_hdr only from TX flags. So before transmit, each such packet gets one of:
//   - TX flags, when the receiving port accepted the offload (no software cost);
//   - a checksum computed in software (rte_net), when it did not;
//   - software segmentation (librte_gso) with per-segment checksums, when it cannot take
//     a large frame. The table of cases is in docs/ARCHITECTURE.md.
#ifndef VHOSTD_DATAPLANE_OFFLOAD_H_
#define VHOSTD_DATAPLANE_OFFLOAD_H_

#include <rte_config.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>

struct rte_mempool;

namespace vhostd {

// What a transmit port's peer accepts, as bits of PortIo::tx_offloads.
enum TxOffload : uint32_t {
  kTxOffloadChecksum = 1u << 0,  // partial TCP/UDP checksums (virtio GUEST_CSUM)
  kTxOffloadTso4 = 1u << 1,      // TCP/IPv4 frames larger than the MTU (GUEST_TSO4)
  kTxOffloadTso6 = 1u << 2,      // TCP/IPv6 frames larger than the MTU (GUEST_TSO6)
};

// The TX offload bits a virtio frontend accepts, from its negotiated feature bits.
uint32_t TxOffloadsFromVirtioFeatures(uint64_t features);

// Receive flags that say a packet is not ready for a plain transmit.
inline constexpr uint64_t kPendingOffloadFlags = RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_LRO;

// Fast check over a burst: false means every packet can be sent as it is.
inline bool AnyPendingOffload(rte_mbuf* const* pkts, uint16_t count) {
  uint64_t flags = 0;
  for (uint16_t i = 0; i < count; ++i) flags |= pkts[i]->ol_flags;
  return (flags & kPendingOffloadFlags) != 0;
}

// Pools for software segmentation: segment headers are copied into `direct` mbufs,
// payloads are referenced through `indirect` ones.
struct OffloadPools {
  rte_mempool* direct = nullptr;
  rte_mempool* indirect = nullptr;
};

// Most segments one large frame may become (a 64 KiB frame at an MSS of 1024 needs 64).
inline constexpr uint16_t kMaxSegmentsPerFrame = 96;

struct OffloadResult {
  uint16_t consumed = 0;  // input packets handled (all of them unless `out` filled up)
  uint16_t out = 0;      // packets written to `out`
  uint16_t dropped = 0;  // input packets that could not be made correct (freed)
};

// Makes `in[0..count)` correct for a port that accepts `tx_offloads`, writing the
// packets to send to `out` (room for `out_room` >= kMaxSegmentsPerFrame; a segmented
// frame takes several entries, and the call stops early, see `consumed`, rather than
// split a frame over two calls). Packets are completed in place or replaced by their segments; the ones that
// cannot be (malformed headers, no pool room, IPv6 or UDP frames larger than the MTU
// for a port without TSO) are freed and counted. Control and polling threads alike.
OffloadResult PrepareForTransmit(rte_mbuf* const* in, uint16_t count, uint32_t tx_offloads,
                                 const OffloadPools& pools, rte_mbuf** out, uint16_t out_room);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_OFFLOAD_H_
