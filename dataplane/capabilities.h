// Which Linux capabilities the daemon holds, for errors that say what is missing: an
// operation the kernel refused with EPERM or EINVAL for want of a capability names it,
// instead of leaving the operator to guess (vhostd runs with a documented minimal set;
// README "What the container needs"). Header-only, so plugins use it as they are.
#ifndef VHOSTD_DATAPLANE_CAPABILITIES_H_
#define VHOSTD_DATAPLANE_CAPABILITIES_H_

#include <linux/capability.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace vhostd {

// Whether capability `cap` (CAP_NET_ADMIN, ...) is in this process's effective set.
inline bool HasCapability(int cap) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("CapEff:", 0) == 0) {
      const uint64_t effective = std::strtoull(line.c_str() + 7, nullptr, 16);
      return (effective >> cap) & 1;
    }
  }
  return true;  // unknown: don't blame a capability
}

// "; vhostd lacks CAP_NAME" if `cap` is missing, else "": appended to an error.
inline std::string LacksCapabilityNote(int cap, const char* name) {
  return HasCapability(cap) ? "" : std::string("; vhostd lacks ") + name;
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_CAPABILITIES_H_
