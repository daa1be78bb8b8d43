#include "plugins/vhost_user/guest_memory_guard.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace vhostd {
namespace {

struct sigaction previous_action;  // what SIGBUS did before Install()

// A slot read while its writer runs is read again (the writer is another thread: a
// fault is never raised while writing the registry). Bounded, to stay non-blocking.
constexpr int kReadAttempts = 64;

}  // namespace

GuestMemoryGuard& GuestMemoryGuard::Get() {
  static GuestMemoryGuard* guard = new GuestMemoryGuard;  // never destroyed: the handler may run at exit
  return *guard;
}

absl::Status GuestMemoryGuard::Install() {
  absl::MutexLock lock(&mu_);
  if (installed_) return absl::OkStatus();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::InternalError(std::string("guest memory guard: eventfd: ") + strerror(errno));
  struct sigaction action = {};
  action.sa_sigaction = &OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGBUS, &action, &previous_action) != 0) {
    return absl::InternalError(std::string("guest memory guard: sigaction(SIGBUS): ") + strerror(errno));
  }
  installed_ = true;
  return absl::OkStatus();
}

int GuestMemoryGuard::AddOwner() {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kMaxOwners; ++i) {
    if (!owner_used_[i]) {
      owner_used_[i] = true;
      faults_[i].store(0, std::memory_order_relaxed);
      return i;
    }
  }
  return -1;
}

void GuestMemoryGuard::RemoveOwner(int owner) {
  if (owner < 0 || owner >= kMaxOwners) return;
  Unregister(owner, -1);
  absl::MutexLock lock(&mu_);
  owner_used_[owner] = false;
}

void GuestMemoryGuard::Write(Slot& slot, uintptr_t start, uintptr_t end, uintptr_t align, int owner, int tag) {
  const uint32_t seq = slot.sequence.load(std::memory_order_relaxed);
  slot.sequence.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  slot.start.store(start, std::memory_order_relaxed);
  slot.align.store(align, std::memory_order_relaxed);
  slot.owner.store(owner, std::memory_order_relaxed);
  slot.tag.store(tag, std::memory_order_relaxed);
  slot.end.store(end, std::memory_order_relaxed);
  slot.sequence.store(seq + 2, std::memory_order_release);
}

bool GuestMemoryGuard::Register(int owner, int tag, uintptr_t start, size_t length, size_t align) {
  if (owner < 0 || owner >= kMaxOwners || length == 0 || align == 0 || (align & (align - 1)) != 0) return false;
  absl::MutexLock lock(&mu_);
  for (Slot& slot : slots_) {
    if (slot.end.load(std::memory_order_relaxed) == 0) {
      Write(slot, start, start + length, align, owner, tag);
      return true;
    }
  }
  return false;
}

void GuestMemoryGuard::Unregister(int owner, int tag) {
  absl::MutexLock lock(&mu_);
  for (Slot& slot : slots_) {
    if (slot.end.load(std::memory_order_relaxed) != 0 && slot.owner.load(std::memory_order_relaxed) == owner &&
        (tag < 0 || slot.tag.load(std::memory_order_relaxed) == tag)) {
      Write(slot, 0, 0, 0, -1, -1);
    }
  }
}

uint64_t GuestMemoryGuard::TakeFaults(int owner) {
  if (owner < 0 || owner >= kMaxOwners) return 0;
  return faults_[owner].exchange(0, std::memory_order_acq_rel);
}

bool GuestMemoryGuard::Find(uintptr_t addr, Found* found) const {
  for (const Slot& slot : slots_) {
    for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
      const uint32_t before = slot.sequence.load(std::memory_order_acquire);
      if (before & 1) continue;
      const Found f = {slot.start.load(std::memory_order_relaxed), slot.end.load(std::memory_order_relaxed),
                       slot.align.load(std::memory_order_relaxed), slot.owner.load(std::memory_order_relaxed)};
      std::atomic_thread_fence(std::memory_order_acquire);
      if (slot.sequence.load(std::memory_order_relaxed) != before) continue;
      if (f.end != 0 && addr >= f.start && addr < f.end) {
        *found = f;
        return true;
      }
      break;
    }
  }
  return false;
}

bool GuestMemoryGuard::HandleFault(uintptr_t addr) {
  Found f;
  if (!Find(addr, &f)) return false;
  // From the faulting page to the end of the mapping: a truncated file is missing its
  // tail, so every later page would fault too.
  uintptr_t from = addr & ~(f.align - 1);
  if (from < f.start) from = f.start;
  void* zeros = mmap(reinterpret_cast<void*>(from), f.end - from, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (zeros == MAP_FAILED) return false;
  faults_[f.owner].fetch_add(1, std::memory_order_acq_rel);
  total_faults_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  const int saved_errno = errno;
  (void)!write(wake_fd_, &one, sizeof(one));
  errno = saved_errno;
  return true;
}

void GuestMemoryGuard::OnSigbus(int signo, siginfo_t* info, void* context) {
  static_assert(std::atomic<uintptr_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free &&
                    std::atomic<uint32_t>::is_always_lock_free && std::atomic<int32_t>::is_always_lock_free,
                "the handler needs lock-free atomics");
  // Only faults the kernel raised (si_code > 0); a SIGBUS sent with kill() is not one.
  if (info->si_code > 0 && Get().HandleFault(reinterpret_cast<uintptr_t>(info->si_addr))) return;
  // Not guest memory: behave as before the guard. A handler installed earlier gets the
  // signal; otherwise the default action is restored and the signal raised again (it is
  // delivered when the handler returns: the process ends as it would have).
  if ((previous_action.sa_flags & SA_SIGINFO) && previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(signo, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signo);
    return;
  }
  struct sigaction fallback = {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGBUS, &fallback, nullptr);
  raise(SIGBUS);
}

}  // namespace vhostd
