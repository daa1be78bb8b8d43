#include "dataplane/offload.h"

#include <rte_ethdev.h>
#include <rte_gso.h>
#include <rte_ip.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstddef>

namespace vhostd {
namespace {

// Virtio-net feature bits (virtio spec 5.1.3).
constexpr uint64_t kGuestCsum = 1ull << 1;
constexpr uint64_t kGuestTso4 = 1ull << 7;
constexpr uint64_t kGuestTso6 = 1ull << 8;

// Where a packet's headers are, from parsing it (lib/vhost sets packet_type but not
// the lengths).
struct Headers {
  bool ipv4 = false;
  bool tcp = false;
};

// Parses `m` and fills its l2/l3/l4 lengths. False if it is not TCP or UDP over IPv4 or
// IPv6 with all headers in the first segment (where checksum and GSO code expect them).
bool ParseHeaders(rte_mbuf* m, Headers* headers) {
  rte_net_hdr_lens lens = {};
  const uint32_t ptype = rte_net_get_ptype(m, &lens, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK | RTE_PTYPE_L4_MASK);
  const uint32_t l4 = ptype & RTE_PTYPE_L4_MASK;
  if (l4 != RTE_PTYPE_L4_TCP && l4 != RTE_PTYPE_L4_UDP) return false;
  if (!RTE_ETH_IS_IPV4_HDR(ptype) && !RTE_ETH_IS_IPV6_HDR(ptype)) return false;
  if (rte_pktmbuf_data_len(m) < lens.l2_len + lens.l3_len + lens.l4_len) return false;
  m->l2_len = lens.l2_len;
  m->l3_len = lens.l3_len;
  m->l4_len = lens.l4_len;
  headers->ipv4 = RTE_ETH_IS_IPV4_HDR(ptype);
  headers->tcp = l4 == RTE_PTYPE_L4_TCP;
  return true;
}

// Replaces the offload flags, keeping the ones that say how the buffer is attached.
void SetOffloadFlags(rte_mbuf* m, uint64_t flags) {
  m->ol_flags = (m->ol_flags & (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT)) | flags;
}

unaligned_uint16_t* L4ChecksumField(rte_mbuf* m, bool tcp) {
  const uint32_t offset = m->l2_len + m->l3_len + (tcp ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum));
  return rte_pktmbuf_mtod_offset(m, unaligned_uint16_t*, offset);
}

// Writes the full TCP/UDP checksum (the field held the pseudo-header sum or garbage).
void SoftwareL4Checksum(rte_mbuf* m, const Headers& h) {
  unaligned_uint16_t* field = L4ChecksumField(m, h.tcp);
  *field = 0;
  const uint16_t l4_offset = m->l2_len + m->l3_len;
  if (h.ipv4) {
    *field = rte_ipv4_udptcp_cksum_mbuf(m, rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, m->l2_len), l4_offset);
  } else {
    *field = rte_ipv6_udptcp_cksum_mbuf(m, rte_pktmbuf_mtod_offset(m, const rte_ipv6_hdr*, m->l2_len), l4_offset);
  }
  SetOffloadFlags(m, 0);
}

// Asks the transmitting port to mark the checksum partial (lib/vhost writes the
// pseudo-header sum and NEEDS_CSUM from these flags).
void FlagL4Checksum(rte_mbuf* m, const Headers& h) {
  SetOffloadFlags(m, (h.tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM) |
                         (h.ipv4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6));
}

void CompleteChecksum(rte_mbuf* m, const Headers& h, uint32_t tx_offloads) {
  if (tx_offloads & kTxOffloadChecksum) {
    FlagL4Checksum(m, h);
  } else {
    SoftwareL4Checksum(m, h);
  }
}

// Splits TCP/IPv4 frame `m` into MSS-sized segments in `out` with correct checksums.
// Returns the number of segments (m is then freed) or -1 (m untouched).
int Segment(rte_mbuf* m, const Headers& h, uint32_t tx_offloads, const OffloadPools& pools, rte_mbuf** out,
            uint16_t room) {
  if (!h.ipv4 || !h.tcp || m->tso_segsz == 0 || pools.direct == nullptr || pools.indirect == nullptr) return -1;
  rte_gso_ctx ctx = {};
  ctx.direct_pool = pools.direct;
  ctx.indirect_pool = pools.indirect;
  ctx.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
  ctx.gso_size = m->l2_len + m->l3_len + m->l4_len + m->tso_segsz;
  ctx.flag = 0;  // IPv4 ids increment per segment, as the sender's TSO would
  SetOffloadFlags(m, RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4);
  const int segments = rte_gso_segment(m, &ctx, out, room);
  if (segments < 0) return -1;
  if (segments == 0) {  // it fits one frame after all
    CompleteChecksum(m, h, tx_offloads);
    out[0] = m;
    return 1;
  }
  rte_pktmbuf_free(m);  // each segment holds a reference to the payload
  for (int i = 0; i < segments; ++i) {
    rte_mbuf* seg = out[i];
    auto* ip = rte_pktmbuf_mtod_offset(seg, rte_ipv4_hdr*, seg->l2_len);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    CompleteChecksum(seg, h, tx_offloads);
  }
  return segments;
}

// Passes a large frame on as one, for a peer that accepted TSO for its family.
bool PassLargeFrame(rte_mbuf* m, const Headers& h, uint32_t tx_offloads) {
  const uint32_t needed = h.ipv4 ? kTxOffloadTso4 : kTxOffloadTso6;
  if (!h.tcp || (tx_offloads & needed) == 0 || m->tso_segsz == 0) return false;
  SetOffloadFlags(m, RTE_MBUF_F_TX_TCP_SEG | (h.ipv4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6));
  return true;
}

}  // namespace

uint32_t TxOffloadsFromVirtioFeatures(uint64_t features) {
  if ((features & kGuestCsum) == 0) return 0;  // TSO without checksum offload is invalid
  uint32_t offloads = kTxOffloadChecksum;
  if (features & kGuestTso4) offloads |= kTxOffloadTso4;
  if (features & kGuestTso6) offloads |= kTxOffloadTso6;
  return offloads;
}

OffloadResult PrepareForTransmit(rte_mbuf* const* in, uint16_t count, uint32_t tx_offloads,
                                 const OffloadPools& pools, rte_mbuf** out, uint16_t out_room) {
  OffloadResult result;
  for (; result.consumed < count; ++result.consumed) {
    rte_mbuf* m = in[result.consumed];
    const uint64_t flags = m->ol_flags;
    const bool large = (flags & RTE_MBUF_F_RX_LRO) != 0;
    const bool partial = (flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
    const uint16_t room = out_room - result.out;
    if (room == 0 || (large && room < kMaxSegmentsPerFrame && result.out > 0)) break;  // caller sends, then resumes
    if (!large && !partial) {
      out[result.out++] = m;
      continue;
    }
    Headers h;
    if (!ParseHeaders(m, &h)) {
      rte_pktmbuf_free(m);
      ++result.dropped;
      continue;
    }
    if (!large || PassLargeFrame(m, h, tx_offloads)) {
      if (!large) CompleteChecksum(m, h, tx_offloads);
      out[result.out++] = m;
      continue;
    }
    const int segments = Segment(m, h, tx_offloads, pools, &out[result.out], room);
    if (segments < 0) {
      rte_pktmbuf_free(m);
      ++result.dropped;
      continue;
    }
    result.out += segments;
  }
  return result;
}

}  // namespace vhostd
