// lib/vhost's share of descriptors. DPDK 22.11's lib/vhost watches every vhost-user
// listener and connection in one fixed set of MAX_FDS (1024) descriptors, one of them its
// own wake-up pipe, and silently drops a connection it has no slot for. vhostd counts
// what its ports may hold and refuses a port there is no room for, so every port it
// accepted can take its frontends.
#ifndef VHOSTD_PLUGINS_VHOST_USER_FD_SLOTS_H_
#define VHOSTD_PLUGINS_VHOST_USER_FD_SLOTS_H_

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vhostd {

// Connections one socket may carry at once: the frontend, and during a live migration
// the destination's frontend beside it. More are refused when they connect.
inline constexpr int kMaxConnectionsPerSocket = 2;

class FdSlots {
 public:
  static constexpr int kLibVhostSlots = 1024 - 1;  // MAX_FDS, less lib/vhost's pipe

  // A server-mode socket holds its listener and its connections; a client-mode one
  // only its connection.
  static int PerSocket(bool client) { return client ? 1 : 1 + kMaxConnectionsPerSocket; }

  static FdSlots& Get();
  explicit FdSlots(int capacity) : capacity_(capacity) {}

  // Takes `slots`, or RESOURCE_EXHAUSTED (naming the field) if they don't fit.
  absl::Status Reserve(int slots);
  void Release(int slots);
  int used() const;

 private:
  const int capacity_;
  mutable absl::Mutex mu_;
  int used_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_FD_SLOTS_H_
