#include "plugins/vhost_user/fd_slots.h"

#include "absl/strings/str_cat.h"

namespace vhostd {

FdSlots& FdSlots::Get() {
  static FdSlots* slots = new FdSlots(kLibVhostSlots);
  return *slots;
}

absl::Status FdSlots::Reserve(int slots) {
  absl::MutexLock lock(&mu_);
  if (used_ + slots > capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "socket_path: no room in lib/vhost's descriptor set (", used_, " of ", capacity_,
        " slots held; a server-mode port takes ", FdSlots::PerSocket(false), ", a client-mode port ",
        FdSlots::PerSocket(true), ")"));
  }
  used_ += slots;
  return absl::OkStatus();
}

void FdSlots::Release(int slots) {
  absl::MutexLock lock(&mu_);
  used_ -= slots;
}

int FdSlots::used() const {
  absl::MutexLock lock(&mu_);
  return used_;
}

}  // namespace vhostd
