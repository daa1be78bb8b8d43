// Turns guest memory faults into port errors, off the signal handler and off lib/vhost's
// event thread: a thread waits on GuestMemoryGuard::wake_fd() and, at every wake-up and
// every `tick`, calls each registered owner's check with the faults counted for it since
// (0 at a plain tick, so owners can run periodic checks too). Checks may call into
// lib/vhost (e.g. unregister a socket): they run on this thread, which holds no lock a
// lib/vhost callback takes.
#ifndef VHOSTD_PLUGINS_VHOST_USER_GUEST_FAULT_WATCHER_H_
#define VHOSTD_PLUGINS_VHOST_USER_GUEST_FAULT_WATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "plugins/vhost_user/guest_memory_guard.h"

namespace vhostd {

class GuestFaultWatcher {
 public:
  using Check = std::function<void(uint64_t faults)>;

  GuestFaultWatcher(GuestMemoryGuard& guard, absl::Duration tick);
  ~GuestFaultWatcher();  // stops the thread

  void Add(int owner, Check check);
  // After Remove returns, `owner`'s check is not running and will not run again.
  void Remove(int owner);

 private:
  void Run();

  GuestMemoryGuard& guard_;
  const absl::Duration tick_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;  // held while checks run
  std::map<int, Check> checks_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_GUEST_FAULT_WATCHER_H_
