// Survives SIGBUS raised by guest memory.
//
// lib/vhost maps the files a frontend sends (SET_MEM_TABLE) with MAP_SHARED. If the
// frontend shrinks such a file afterwards, any access past its new end raises SIGBUS in
// whichever thread makes it: a polling core copying a packet, lib/vhost's event thread
// reading a ring. Left alone, that ends the daemon and every port with it.
//
// The guard keeps a registry of the guest mappings (fixed slots, no allocation, written
// under a mutex by the control side and read lock-free by the signal handler). Its
// SIGBUS handler looks si_addr up there: inside a guest mapping, it maps anonymous zero
// pages over the rest of that mapping (MAP_FIXED), so the faulting access completes
// (reading zeros, or writing into memory nobody else sees), counts a fault for the
// mapping's owner and wakes wake_fd(); the owner then takes its port down (see
// GuestFaultWatcher). Outside guest memory, the handler restores the previous action
// (the default one: the process dies as before) and returns, so the access faults again
// and the signal is delivered as if the guard were not there.
//
// The handler uses only async-signal-safe operations: lock-free atomics, mmap (a plain
// system call on Linux), write, sigaction.
#ifndef VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_GUARD_H_
#define VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_GUARD_H_

#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vhostd {

class GuestMemoryGuard {
 public:
  static constexpr int kMaxOwners = 4096;  // ports
  static constexpr int kMaxSlots = 8192;   // mappings (a connection has at most 8)

  // The process's guard. Its handler is installed by Install(), once.
  static GuestMemoryGuard& Get();

  // Installs the SIGBUS handler (SA_SIGINFO, SA_ONSTACK) and creates wake_fd(). Idempotent.
  absl::Status Install();
  // Readable (an eventfd) after a fault was counted.
  int wake_fd() const { return wake_fd_; }

  // An owner id for a port, or -1 if all are taken. Its fault count starts at 0.
  int AddOwner();
  // Forgets the owner's mappings and frees the id.
  void RemoveOwner(int owner);

  // Records [start, start + length) as guest memory of `owner`, tagged `tag` (the
  // connection). `align`: the mapping's page size (4 KiB, or the huge page size of a
  // hugetlbfs file): zero pages replace whole pages of it. False if the registry is full.
  bool Register(int owner, int tag, uintptr_t start, size_t length, size_t align);
  // Forgets the mappings of `owner` with `tag` (every tag if tag < 0). Call before the
  // memory is unmapped, once nothing touches it any more.
  void Unregister(int owner, int tag);

  // Faults counted for `owner` since the last call.
  uint64_t TakeFaults(int owner);
  // Faults inside guest memory in this process's life (all owners).
  uint64_t total_faults() const { return total_faults_.load(std::memory_order_relaxed); }

  // The signal handler's work, for tests: handles a fault at `addr` and says whether it
  // was inside guest memory.
  bool HandleFault(uintptr_t addr);

 private:
  struct Slot {
    std::atomic<uint32_t> sequence{0};  // odd while being written
    std::atomic<uintptr_t> start{0};
    std::atomic<uintptr_t> end{0};      // 0: free
    std::atomic<uintptr_t> align{0};
    std::atomic<int32_t> owner{-1};
    std::atomic<int32_t> tag{-1};
  };
  struct Found {
    uintptr_t start, end, align;
    int32_t owner;
  };

  GuestMemoryGuard() = default;
  static void OnSigbus(int signo, siginfo_t* info, void* context);
  bool Find(uintptr_t addr, Found* found) const;
  void Write(Slot& slot, uintptr_t start, uintptr_t end, uintptr_t align, int owner, int tag);

  Slot slots_[kMaxSlots];
  std::atomic<uint64_t> faults_[kMaxOwners] = {};
  std::atomic<uint64_t> total_faults_{0};
  int wake_fd_ = -1;
  absl::Mutex mu_;  // writers of slots_, owner ids
  bool owner_used_[kMaxOwners] ABSL_GUARDED_BY(mu_) = {};
  bool installed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_GUARD_H_
