#include "plugins/vhost_user/guest_fault_watcher.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace vhostd {

GuestFaultWatcher::GuestFaultWatcher(GuestMemoryGuard& guard, absl::Duration tick)
    : guard_(guard), tick_(tick), thread_([this] { Run(); }) {}

GuestFaultWatcher::~GuestFaultWatcher() {
  stop_.store(true);
  thread_.join();
}

void GuestFaultWatcher::Add(int owner, Check check) {
  absl::MutexLock lock(&mu_);
  checks_[owner] = std::move(check);
}

void GuestFaultWatcher::Remove(int owner) {
  absl::MutexLock lock(&mu_);
  checks_.erase(owner);
}

void GuestFaultWatcher::Run() {
  pthread_setname_np(pthread_self(), "vhost-guard");
  // The daemon's signals (SIGTERM, SIGINT, ...) belong to the thread that sigwaits for
  // them, whoever created this plugin and whatever mask it had then.
  // Faults raised by this thread's own code stay deliverable.
  sigset_t asynchronous;
  sigfillset(&asynchronous);
  for (int fault : {SIGBUS, SIGSEGV, SIGFPE, SIGILL}) sigdelset(&asynchronous, fault);
  pthread_sigmask(SIG_BLOCK, &asynchronous, nullptr);
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(tick_));
  while (!stop_.load()) {
    pollfd wake = {guard_.wake_fd(), POLLIN, 0};
    if (poll(&wake, 1, timeout_ms) > 0) {
      uint64_t count;
      (void)!read(guard_.wake_fd(), &count, sizeof(count));
    }
    absl::MutexLock lock(&mu_);
    for (auto& [owner, check] : checks_) check(guard_.TakeFaults(owner));
  }
}

}  // namespace vhostd
