#include "plugins/uplink/af_xdp_leftovers.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

namespace vhostd::uplink {
namespace {

// absl::ToUnixNanos of the last release (0: never).
std::atomic<int64_t> last_xsk_release_ns{0};

// A value of /proc/self/fdinfo/FD ("prog_id:\t12"), or "".
std::string FdinfoField(int fd, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/self/fdinfo/", fd));
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::string(absl::StripAsciiWhitespace(line.substr(field.size() + 1)));
    }
  }
  return "";
}

// The key of descriptor `fd` if it is one of the objects net_af_xdp makes, else "".
std::string KeyOf(int fd) {
  char target[64] = {};
  if (readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), target, sizeof(target) - 1) <= 0) return "";
  const absl::string_view link(target);
  if (absl::StartsWith(link, "socket:")) {
    int domain = 0;
    socklen_t length = sizeof(domain);
    struct stat st {};
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_XDP) return "";
    return fstat(fd, &st) == 0 ? absl::StrCat("xsk:", st.st_ino) : "";
  }
  // BPF objects share one anonymous inode: their kernel ids tell them apart.
  if (link == "anon_inode:bpf-prog") return absl::StrCat("bpf-prog:", FdinfoField(fd, "prog_id"));
  if (link == "anon_inode:bpf-map") return absl::StrCat("bpf-map:", FdinfoField(fd, "map_id"));
  // The BTF (type information) loaded with the XDP program, one more per AF_XDP device.
  if (link == "anon_inode:btf") {
    const std::string id = FdinfoField(fd, "btf_id");
    return id.empty() ? "" : absl::StrCat("btf:", id);
  }
  return "";
}

// {descriptor: key} of the objects above.
std::map<int, std::string> Descriptors() {
  std::map<int, std::string> found;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  const int own = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == own) continue;
    if (std::string key = KeyOf(fd); !key.empty()) found[fd] = std::move(key);
  }
  closedir(dir);
  return found;
}

// Unmaps the ranges /proc/self/maps shows for "socket:[INODE]".
void UnmapSocket(absl::string_view inode) {
  const std::string name = absl::StrCat("socket:[", inode, "]");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (!absl::EndsWith(line, name)) continue;
    const std::vector<std::string> range = absl::StrSplit(line.substr(0, line.find(' ')), '-');
    uint64_t start = 0, end = 0;
    if (range.size() == 2 && absl::SimpleHexAtoi(range[0], &start) && absl::SimpleHexAtoi(range[1], &end)) {
      ranges.emplace_back(start, end);
    }
  }
  for (const auto& [start, end] : ranges) munmap(reinterpret_cast<void*>(start), end - start);
}

}  // namespace

std::set<std::string> XdpKernelObjects() {
  std::set<std::string> keys;
  for (const auto& [fd, key] : Descriptors()) keys.insert(key);
  return keys;
}

int ReleaseXdpKernelObjects(const std::set<std::string>& keys) {
  int released = 0;
  for (const auto& [fd, key] : Descriptors()) {
    if (keys.count(key) == 0) continue;
    if (absl::StartsWith(key, "xsk:")) UnmapSocket(absl::StripPrefix(key, "xsk:"));
    close(fd);
    ++released;
  }
  // Whoever closed them (DPDK, or the loop above), the device's sockets are closing now.
  for (const std::string& key : keys) {
    if (absl::StartsWith(key, "xsk:")) last_xsk_release_ns.store(absl::ToUnixNanos(absl::Now()));
  }
  return released;
}

absl::Duration SinceLastXskRelease() {
  const int64_t last = last_xsk_release_ns.load();
  return last == 0 ? absl::InfiniteDuration() : absl::Now() - absl::FromUnixNanos(last);
}

}  // namespace vhostd::uplink
