#include "dataplane/test_packets.h"

#include <cstddef>
#include <cstdlib>
#include <algorithm>
#include <cstring>

namespace vhostd {
namespace {

void Append(rte_mempool* pool, rte_mbuf* m, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    rte_mbuf* last = rte_pktmbuf_lastseg(m);
    size_t room = rte_pktmbuf_tailroom(last);
    if (room == 0) {
      rte_mbuf* next = rte_pktmbuf_alloc(pool);
      if (next == nullptr || rte_pktmbuf_chain(m, next) != 0) abort();  // the test's pool is too small
      continue;
    }
    const size_t n = std::min(room, bytes.size() - done);
    memcpy(rte_pktmbuf_mtod_offset(last, char*, last->data_len), bytes.data() + done, n);
    last->data_len += n;
    m->pkt_len += n;
    done += n;
  }
}

unaligned_uint16_t* L4Checksum(rte_mbuf* m, size_t l4, bool tcp) {
  return rte_pktmbuf_mtod_offset(m, unaligned_uint16_t*,
                                 l4 + (tcp ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum)));
}

}  // namespace

std::string TestPayload(size_t size) {
  std::string payload(size, '\0');
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7 + 3);
  return payload;
}


// An Ethernet/IPv4/TCP (or UDP) packet as lib/vhost hands over one a Linux guest sent
// with a partial checksum: the L4 field holds the pseudo-header sum.
rte_mbuf* TestIpv4Packet(rte_mempool* pool, bool tcp, const std::string& payload, bool partial) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  std::string headers(kEth + kIp4 + (tcp ? kTcp : kUdp), '\0');
  auto* eth = reinterpret_cast<rte_ether_hdr*>(headers.data());
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(headers.data() + kEth);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(headers.size() - kEth + payload.size()));
  ip->packet_id = rte_cpu_to_be_16(7);
  ip->time_to_live = 64;
  ip->next_proto_id = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 1));
  ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 2));
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  const size_t l4 = kEth + kIp4;
  if (tcp) {
    auto* th = reinterpret_cast<rte_tcp_hdr*>(headers.data() + l4);
    th->src_port = rte_cpu_to_be_16(5000);
    th->dst_port = rte_cpu_to_be_16(80);
    th->sent_seq = rte_cpu_to_be_32(kFirstSeq);
    th->data_off = (kTcp / 4) << 4;
    th->tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
    th->rx_win = rte_cpu_to_be_16(1000);
  } else {
    auto* uh = reinterpret_cast<rte_udp_hdr*>(headers.data() + l4);
    uh->src_port = rte_cpu_to_be_16(5000);
    uh->dst_port = rte_cpu_to_be_16(53);
    uh->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(kUdp + payload.size()));
  }
  Append(pool, m, headers);
  Append(pool, m, payload);
  unaligned_uint16_t* field = L4Checksum(m, l4, tcp);
  if (!partial) {  // a complete checksum, as a guest without checksum offload sends
    *field = rte_ipv4_udptcp_cksum_mbuf(m, rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEth), l4);
  } else {
    *field = rte_ipv4_phdr_cksum(ip, 0);
    m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
  }
  return m;
}

rte_mbuf* TestIpv6Packet(rte_mempool* pool, bool tcp, const std::string& payload) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  std::string headers(kEth + kIp6 + (tcp ? kTcp : kUdp), '\0');
  auto* eth = reinterpret_cast<rte_ether_hdr*>(headers.data());
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(headers.data() + kEth);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(headers.size() - kEth - kIp6 + payload.size()));
  ip->proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  ip->hop_limits = 64;
  ip->src_addr[15] = 1;
  ip->dst_addr[15] = 2;
  const size_t l4 = kEth + kIp6;
  if (tcp) {
    auto* th = reinterpret_cast<rte_tcp_hdr*>(headers.data() + l4);
    th->data_off = (kTcp / 4) << 4;
    th->sent_seq = rte_cpu_to_be_32(kFirstSeq);
  } else {
    auto* uh = reinterpret_cast<rte_udp_hdr*>(headers.data() + l4);
    uh->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(kUdp + payload.size()));
  }
  Append(pool, m, headers);
  Append(pool, m, payload);
  *L4Checksum(m, l4, tcp) = rte_ipv6_phdr_cksum(ip, 0);
  m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
  return m;
}

// A TSO frame from a guest with HOST_TSO4: one TCP header over `payload` bytes.
rte_mbuf* TestLargeTcp4Frame(rte_mempool* pool, size_t payload, uint16_t mss) {
  rte_mbuf* m = TestIpv4Packet(pool, true, TestPayload(payload));
  m->ol_flags = RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_NONE;
  m->tso_segsz = mss;
  return m;
}

bool TestIpv4HeaderChecksumOk(rte_mbuf* m) {
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEth);
  const uint16_t stored = ip->hdr_checksum;
  ip->hdr_checksum = 0;
  const uint16_t computed = rte_ipv4_cksum(ip);
  ip->hdr_checksum = stored;
  return stored == computed;
}

bool TestL4ChecksumOk(rte_mbuf* m, bool ipv4) {
  if (ipv4) {
    return rte_ipv4_udptcp_cksum_mbuf_verify(m, rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEth), kEth + kIp4) == 0;
  }
  return rte_ipv6_udptcp_cksum_mbuf_verify(m, rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, kEth), kEth + kIp6) == 0;
}

std::string TestBytes(rte_mbuf* m, uint32_t offset) {
  std::string out(rte_pktmbuf_pkt_len(m) - offset, '\0');
  const void* p = rte_pktmbuf_read(m, offset, out.size(), out.data());
  if (p != out.data()) memcpy(out.data(), p, out.size());
  return out;
}

}  // namespace vhostd
