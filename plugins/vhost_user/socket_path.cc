#include "plugins/vhost_user/socket_path.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return absl::NotFoundError(strerror(errno));
  return std::string(resolved);
}

}  // namespace

absl::StatusOr<std::string> ResolveSocketPath(const std::string& path, const std::string& socket_dir,
                                              const std::string& field) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  const bool control = std::any_of(path.begin(), path.end(), [](char c) { return c < 0x20 || c == 0x7f; });
  if (control || path.find_first_of(",=") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not contain ',', '=' or control characters"));
  }
  const std::string joined = path[0] == '/' ? path : absl::StrCat(socket_dir, "/", path);
  const size_t slash = joined.find_last_of('/');
  const std::string dir = slash == 0 ? "/" : joined.substr(0, slash);
  const std::string base = joined.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path, "\" does not name a socket file"));
  }
  absl::StatusOr<std::string> root = RealPath(socket_dir);
  if (!root.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("socket directory ", socket_dir, ": ", root.status().message()));
  }
  absl::StatusOr<std::string> real_dir = RealPath(dir);
  if (!real_dir.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": directory ", dir, ": ", real_dir.status().message()));
  }
  if (*real_dir != *root && !absl::StartsWith(*real_dir, absl::StrCat(*root, "/"))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\" resolves outside the socket directory ", *root));
  }
  const std::string resolved = absl::StrCat(*real_dir, "/", base);
  struct stat st;
  if (lstat(resolved.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path, "\" is a symlink"));
  }
  if (resolved.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", resolved, "\" is ", resolved.size(),
                                                   " bytes; a Unix socket path must be under ",
                                                   sizeof(sockaddr_un{}.sun_path)));
  }
  return resolved;
}

absl::Status ClearStaleSocket(const std::string& path, const std::string& field) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path, "\" exists and is not a socket"));
  }
  // Non-blocking: a listener that never accepts (full backlog) must not hang the
  // control plane; EAGAIN then means "live".
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EAGAIN;
  close(fd);
  if (live) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": \"", path, "\" is in use by a listening process"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("cannot remove stale socket ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace vhostd
