#include "server/socket_owner.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

struct Probe {
  bool live = false;
  pid_t pid = 0;  // the listener's, when live and the kernel says
};

// Non-blocking connect: a listener that never accepts (full backlog) must not hang us;
// EAGAIN then means "live" too.
absl::StatusOr<Probe> ProbeListener(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  Probe probe;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    probe.live = true;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) probe.pid = cred.pid;
  } else {
    probe.live = errno == EAGAIN;
  }
  close(fd);
  return probe;
}

}  // namespace

absl::Status ClaimSocketPath(const std::string& path, const std::string& flag) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot stat ", path, ": ", strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", path, " exists and is not a socket"));
  }
  absl::StatusOr<Probe> probe = ProbeListener(path);
  if (!probe.ok()) return probe.status();
  if (probe->live) {
    const std::string who = probe->pid > 0 ? absl::StrCat(" (pid ", probe->pid, ")") : "";
    return absl::FailedPreconditionError(absl::StrCat(flag, ": ", path, " is served by another live process", who,
                                                      "; stop it or choose another path"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": cannot remove the stale socket ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<SocketFile> StatSocketFile(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::InternalError(absl::StrCat("stat ", path, ": ", strerror(errno)));
  return SocketFile{st.st_dev, st.st_ino};
}

bool RemoveSocketIfOwned(const std::string& path, const SocketFile& file) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || st.st_dev != file.dev || st.st_ino != file.ino) return false;
  return unlink(path.c_str()) == 0;
}

}  // namespace vhostd
