// One vhost-user port's view of its frontends' guest memory: checks each SET_MEM_TABLE
// before lib/vhost maps it (mem_table_check.h), registers what lib/vhost mapped with the
// SIGBUS guard (guest_memory_guard.h) and unregisters it before lib/vhost unmaps it, and
// remembers why the port had to be taken down, for its status.
#ifndef VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_PORT_H_
#define VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_PORT_H_

#include <cstdint>
#include <string>

#include "absl/synchronization/mutex.h"
#include "plugins/vhost_user/guest_memory_guard.h"
#include "plugins/vhost_user/vhost_msg.h"

namespace vhostd {

class GuestMemoryPort {
 public:
  struct Info {
    uint32_t regions = 0;        // of the last memory table accepted
    uint32_t shrink_sealed = 0;  // of those, sealed against shrinking
    uint64_t refused_tables = 0;
    uint64_t faults = 0;         // accesses to memory the frontend took away
  };

  explicit GuestMemoryPort(GuestMemoryGuard& guard);
  ~GuestMemoryPort();  // forgets its mappings
  GuestMemoryPort(const GuestMemoryPort&) = delete;
  GuestMemoryPort& operator=(const GuestMemoryPort&) = delete;

  int owner() const { return owner_; }  // the guard's id for this port, -1 if it had none left

  // SET_MEM_TABLE of connection `vid`: false refuses it (the reason becomes error()).
  bool Check(int vid, const vhostd_vhost_msg& msg);
  // lib/vhost mapped connection `vid`'s table: guards it. False (and error()) if it
  // cannot be guarded, so the connection must go.
  bool Mapped(int vid);
  // Connection `vid` is about to lose its memory (tag < 0: every connection).
  void Forget(int vid);
  // The guard counted `faults` in this port's memory.
  void Faulted(uint64_t faults);
  // A frontend brought a device up: the port works again.
  void ClearError();

  std::string error() const;  // why the port is in ERROR; empty if it is not
  Info info() const;

 private:
  void SetError(std::string error);

  GuestMemoryGuard& guard_;
  const int owner_;
  mutable absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);
  Info info_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_GUEST_MEMORY_PORT_H_
