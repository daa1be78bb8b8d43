// Packets for data-plane unit tests, shaped like the ones lib/vhost hands over from a
// Linux guest: Ethernet/IPv4 or IPv6/TCP or UDP, with partial checksums and TSO frames.
#ifndef VHOSTD_DATAPLANE_TEST_PACKETS_H_
#define VHOSTD_DATAPLANE_TEST_PACKETS_H_

#include <rte_config.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstdint>
#include <string>

namespace vhostd {

inline constexpr uint16_t kEth = sizeof(rte_ether_hdr);
inline constexpr uint16_t kIp4 = sizeof(rte_ipv4_hdr);
inline constexpr uint16_t kIp6 = sizeof(rte_ipv6_hdr);
inline constexpr uint16_t kTcp = sizeof(rte_tcp_hdr);
inline constexpr uint16_t kUdp = sizeof(rte_udp_hdr);
inline constexpr uint32_t kFirstSeq = 1000;  // TCP sequence number of test packets

// `size` bytes of a fixed pattern.
std::string TestPayload(size_t size);

// An IPv4 TCP or UDP packet over `payload`. `partial`: the L4 field holds only the
// pseudo-header sum and the mbuf is flagged RX_L4_CKSUM_NONE (a guest's NEEDS_CSUM);
// otherwise the checksum is complete. Chained when larger than one mbuf.
rte_mbuf* TestIpv4Packet(rte_mempool* pool, bool tcp, const std::string& payload, bool partial = true);
// The same over IPv6, always partial.
rte_mbuf* TestIpv6Packet(rte_mempool* pool, bool tcp, const std::string& payload);
// A TSO frame from a guest with HOST_TSO4: one TCP header over `payload` bytes.
rte_mbuf* TestLargeTcp4Frame(rte_mempool* pool, size_t payload, uint16_t mss);

bool TestIpv4HeaderChecksumOk(rte_mbuf* m);
bool TestL4ChecksumOk(rte_mbuf* m, bool ipv4);
// The packet's bytes from `offset` on, across segments.
std::string TestBytes(rte_mbuf* m, uint32_t offset);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_TEST_PACKETS_H_
