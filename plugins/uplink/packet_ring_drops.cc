#include "plugins/uplink/packet_ring_drops.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "absl/strings/numbers.h"

namespace vhostd::uplink {
namespace {

// The inode of `fd` if it is an AF_PACKET socket, else 0.
uint64_t PacketSocketInode(int fd) {
  int domain = 0;
  socklen_t length = sizeof(domain);
  struct stat st {};
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_PACKET) return 0;
  return fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

}  // namespace

std::map<int, uint64_t> PacketSockets() {
  std::map<int, uint64_t> sockets;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return sockets;
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == own) continue;
    if (const uint64_t inode = PacketSocketInode(fd); inode != 0) sockets[fd] = inode;
  }
  closedir(dir);
  return sockets;
}

PacketRingDrops::PacketRingDrops(const std::map<int, uint64_t>& before, const std::map<int, uint64_t>& now) {
  for (const auto& [fd, inode] : now) {
    const auto old = before.find(fd);
    if (old == before.end() || old->second != inode) sockets_[fd] = inode;
  }
}

uint64_t PacketRingDrops::Total() const {
  absl::MutexLock lock(&mutex_);
  for (const auto& [fd, inode] : sockets_) {
    if (PacketSocketInode(fd) != inode) continue;
    tpacket_stats stats{};
    socklen_t length = sizeof(stats);
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &length) == 0) total_ += stats.tp_drops;
  }
  return total_;
}

}  // namespace vhostd::uplink
