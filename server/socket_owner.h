// Who owns a Unix socket path: a daemon takes over a path only from a dead process, and
// on exit removes only the socket file it created itself.
#ifndef VHOSTD_SERVER_SOCKET_OWNER_H_
#define VHOSTD_SERVER_SOCKET_OWNER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vhostd {

// Makes `path` free for a new listening socket. Nothing there: OK. A socket that
// accepts connections (connect() succeeds, or its backlog is full) belongs to a live
// process: FAILED_PRECONDITION naming `flag` and, when the kernel tells, its pid. A
// socket nobody listens on is a dead daemon's: removed. Anything else (a regular file,
// a directory, a symlink) is FAILED_PRECONDITION and left alone.
absl::Status ClaimSocketPath(const std::string& path, const std::string& flag);

// The file a socket was bound to, to recognise it later.
struct SocketFile {
  dev_t dev = 0;
  ino_t ino = 0;
};

absl::StatusOr<SocketFile> StatSocketFile(const std::string& path);

// Unlinks `path` only if it is still `file`: another process may have replaced it (a
// daemon started after this one was given up for dead). Returns whether it unlinked.
bool RemoveSocketIfOwned(const std::string& path, const SocketFile& file);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_SOCKET_OWNER_H_
