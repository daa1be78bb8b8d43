// The daemon's defaults for the sockets plugins create (vhost-user server mode), from
// --socket-mode, --socket-owner and --socket-group; a port's spec may override them.
#ifndef VHOSTD_SERVER_SOCKET_DEFAULTS_H_
#define VHOSTD_SERVER_SOCKET_DEFAULTS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

struct SocketDefaults {
  uint32_t mode = 0660;
  std::string owner;  // numeric uid, empty for the daemon's
  std::string group;  // numeric gid, empty for the daemon's
};

// Checks the flags (errors name them) and resolves names to numeric ids.
absl::StatusOr<SocketDefaults> SocketDefaultsFromFlags();

}  // namespace vhostd

#endif  // VHOSTD_SERVER_SOCKET_DEFAULTS_H_
