#include "plugins/vhost_user/mem_table_check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vhostd {
namespace {

constexpr uint32_t kHeaderBytes = 8;  // nregions, padding
constexpr uint32_t kRegionBytes = sizeof(vhostd_vhost_msg_region);

bool AddOverflows(uint64_t a, uint64_t b) { return a + b < a; }

std::string Hex(uint64_t v) { return absl::StrFormat("%#x", v); }

// What is wrong with region `i` on its own, or "".
std::string CheckRegion(uint32_t i, const vhostd_vhost_msg_region& r, int fd, bool* shrink_sealed) {
  const std::string name = absl::StrCat("region ", i, ": ");
  if (r.memory_size == 0) return name + "memory_size is 0";
  if (AddOverflows(r.mmap_offset, r.memory_size)) {
    return name + "mmap_offset " + Hex(r.mmap_offset) + " + memory_size " + Hex(r.memory_size) + " overflows";
  }
  if (AddOverflows(r.guest_phys_addr, r.memory_size) || AddOverflows(r.userspace_addr, r.memory_size)) {
    return name + "guest address + memory_size " + Hex(r.memory_size) + " overflows";
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return name + "its file descriptor cannot be inspected";
  if (!S_ISREG(st.st_mode)) return name + "its file descriptor is not a regular file (memfd, tmpfs or hugetlbfs)";
  const uint64_t needed = r.mmap_offset + r.memory_size;
  if (needed > static_cast<uint64_t>(st.st_size)) {
    return name + "mmap_offset + memory_size is " + Hex(needed) + " bytes, its file has only " +
           Hex(static_cast<uint64_t>(st.st_size));
  }
  const int seals = fcntl(fd, F_GET_SEALS);
  *shrink_sealed = seals > 0 && (seals & F_SEAL_SHRINK);
  return "";
}

bool Overlap(uint64_t a, uint64_t b, uint64_t size_a, uint64_t size_b) { return a < b + size_b && b < a + size_a; }

// Two regions claiming the same guest addresses, or "".
std::string CheckOverlaps(const vhostd_vhost_msg_memory& m) {
  for (uint32_t i = 0; i < m.nregions; ++i) {
    for (uint32_t j = i + 1; j < m.nregions; ++j) {
      const vhostd_vhost_msg_region &a = m.regions[i], &b = m.regions[j];
      if (Overlap(a.guest_phys_addr, b.guest_phys_addr, a.memory_size, b.memory_size)) {
        return absl::StrCat("regions ", i, " and ", j, " overlap in guest physical addresses");
      }
    }
  }
  return "";
}

std::string CheckCounts(const vhostd_vhost_msg& msg) {
  if (msg.size < kHeaderBytes) return absl::StrCat("payload of ", msg.size, " bytes has no region count");
  uint32_t n;
  memcpy(&n, &msg.payload.memory.nregions, sizeof(n));
  if (n > VHOSTD_VHOST_MAX_REGIONS) return absl::StrCat(n, " regions, at most ", VHOSTD_VHOST_MAX_REGIONS);
  if (msg.size < kHeaderBytes + n * kRegionBytes) {
    return absl::StrCat("payload of ", msg.size, " bytes is too short for ", n, " regions");
  }
  if (msg.fd_num != static_cast<int>(n)) {
    return absl::StrCat(n, " regions but ", msg.fd_num, " file descriptors");
  }
  return "";
}

}  // namespace

MemTableCheck CheckMemTable(const vhostd_vhost_msg& msg) {
  MemTableCheck check;
  check.refusal = CheckCounts(msg);
  if (!check.refusal.empty()) return check;
  vhostd_vhost_msg_memory m;  // the message is packed: copy it out aligned
  memcpy(&m, &msg.payload.memory, sizeof(m));
  check.regions = m.nregions;
  for (uint32_t i = 0; i < m.nregions; ++i) {
    bool sealed = false;
    check.refusal = CheckRegion(i, m.regions[i], msg.fds[i], &sealed);
    if (!check.refusal.empty()) return check;
    check.shrink_sealed += sealed;
  }
  check.refusal = CheckOverlaps(m);
  return check;
}

}  // namespace vhostd
