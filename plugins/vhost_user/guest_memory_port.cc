#include "plugins/vhost_user/guest_memory_port.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "plugins/vhost_user/mem_table_check.h"
#include "plugins/vhost_user/vhost_lib.h"

namespace vhostd {

GuestMemoryPort::GuestMemoryPort(GuestMemoryGuard& guard) : guard_(guard), owner_(guard.AddOwner()) {}

GuestMemoryPort::~GuestMemoryPort() { guard_.RemoveOwner(owner_); }

bool GuestMemoryPort::Check(int /*vid*/, const vhostd_vhost_msg& msg) {
  const MemTableCheck check = CheckMemTable(msg);
  absl::MutexLock lock(&mu_);
  if (!check.refusal.empty()) {
    ++info_.refused_tables;
    error_ = "the frontend's memory table was refused (" + check.refusal + "); it was disconnected";
    return false;
  }
  info_.regions = check.regions;
  info_.shrink_sealed = check.shrink_sealed;
  return true;
}

bool GuestMemoryPort::Mapped(int vid) {
  // lib/vhost may have replaced the mappings (or kept them): guard what is there now.
  guard_.Unregister(owner_, vid);
  vhostd_vhost_mapping regions[VHOSTD_VHOST_MAX_REGIONS];
  const int n = vhostd_vhost_mapped_regions(vid, regions, VHOSTD_VHOST_MAX_REGIONS);
  bool guarded = owner_ >= 0 && n >= 0;
  for (int i = 0; guarded && i < n; ++i) {
    struct stat st;
    const size_t align = fstat(regions[i].fd, &st) == 0 && st.st_blksize > 0 ? st.st_blksize : getpagesize();
    guarded = guard_.Register(owner_, vid, regions[i].start, regions[i].length, align);
  }
  if (guarded) return true;
  guard_.Unregister(owner_, vid);
  SetError("the frontend's guest memory could not be guarded (too many mappings); it was disconnected");
  return false;
}

void GuestMemoryPort::Forget(int vid) { guard_.Unregister(owner_, vid); }

void GuestMemoryPort::Faulted(uint64_t faults) {
  absl::MutexLock lock(&mu_);
  info_.faults += faults;
  error_ = "guest memory truncated by the frontend (an access past the end of its memory file); "
           "it was disconnected";
}

void GuestMemoryPort::ClearError() {
  absl::MutexLock lock(&mu_);
  error_.clear();
}

void GuestMemoryPort::SetError(std::string error) {
  absl::MutexLock lock(&mu_);
  error_ = std::move(error);
}

std::string GuestMemoryPort::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

GuestMemoryPort::Info GuestMemoryPort::info() const {
  absl::MutexLock lock(&mu_);
  return info_;
}

}  // namespace vhostd
