// PacketRingDrops against a real AF_PACKET socket with a PACKET_MMAP receive ring on
// the loopback interface that nobody empties: once its frames are taken, the kernel
// drops what follows and counts it. Needs CAP_NET_RAW (tests run as root).
#include "plugins/uplink/packet_ring_drops.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace vhostd::uplink {
namespace {

constexpr unsigned kRingFrames = 4;

// An AF_PACKET socket on lo with a receive ring of kRingFrames frames, as net_af_packet
// makes them (TPACKET_V2).
int RingSocketOnLoopback() {
  const int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  int version = TPACKET_V2;
  tpacket_req req{};
  req.tp_block_size = 4096;
  req.tp_frame_size = 2048;
  req.tp_block_nr = kRingFrames / 2;
  req.tp_frame_nr = kRingFrames;
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendUdpToLoopback(int datagrams) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // discard: nobody listens, the frames still cross lo
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char payload[64] = {};
  for (int i = 0; i < datagrams; ++i) {
    sendto(fd, payload, sizeof(payload), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  close(fd);
}

TEST(PacketRingDropsTest, CountsWhatAFullRingDroppedAndKeepsTheTotal) {
  const std::map<int, uint64_t> before = PacketSockets();
  const int fd = RingSocketOnLoopback();
  ASSERT_GE(fd, 0) << "AF_PACKET socket with a ring on lo (needs CAP_NET_RAW)";
  PacketRingDrops drops(before, PacketSockets());
  EXPECT_EQ(drops.sockets(), 1u) << "exactly the socket made in between";
  EXPECT_EQ(drops.Total(), 0u);

  const int datagrams = 20;
  SendUdpToLoopback(datagrams);
  usleep(100 * 1000);
  const uint64_t first = drops.Total();
  // lo shows each frame at least once; the ring takes kRingFrames of them.
  EXPECT_GE(first, static_cast<uint64_t>(datagrams - kRingFrames));
  EXPECT_EQ(drops.Total(), first) << "the kernel resets its count on read; the total must not";

  SendUdpToLoopback(datagrams);
  usleep(100 * 1000);
  const uint64_t second = drops.Total();
  EXPECT_GE(second, first + datagrams);
  close(fd);
  EXPECT_EQ(drops.Total(), second) << "a closed descriptor is skipped";
}

TEST(PacketRingDropsTest, SocketsThatWereThereBeforeAreNotCounted) {
  const int fd = RingSocketOnLoopback();
  ASSERT_GE(fd, 0);
  const std::map<int, uint64_t> now = PacketSockets();
  EXPECT_EQ(now.count(fd), 1u);
  PacketRingDrops drops(now, now);
  EXPECT_EQ(drops.sockets(), 0u);
  SendUdpToLoopback(20);
  EXPECT_EQ(drops.Total(), 0u);
  close(fd);
}

}  // namespace
}  // namespace vhostd::uplink
