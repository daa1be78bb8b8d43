// Confines vhost-user socket paths to the daemon's socket directory.
#ifndef VHOSTD_PLUGINS_VHOST_USER_SOCKET_PATH_H_
#define VHOSTD_PLUGINS_VHOST_USER_SOCKET_PATH_H_

#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

// Resolves `path` (absolute, or relative to `socket_dir`) to a canonical absolute path
// whose directory, after following symlinks and "..", lies inside `socket_dir`. The
// last component must not be a symlink, and the result must fit sockaddr_un.sun_path.
// Errors are INVALID_ARGUMENT and begin with `field`.
absl::StatusOr<std::string> ResolveSocketPath(const std::string& path, const std::string& socket_dir,
                                              const std::string& field);

// Prepares `path` for a listening socket: a stale socket (file exists, nobody accepts)
// is removed; a live one is FAILED_PRECONDITION. Nothing happens if no file exists.
absl::Status ClearStaleSocket(const std::string& path, const std::string& field);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_SOCKET_PATH_H_
