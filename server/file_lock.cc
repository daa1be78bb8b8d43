#include "server/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

// The pid the holder wrote, for the message; empty when unreadable.
std::string HolderOf(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  int pid = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &pid) || pid <= 0) return "";
  return absl::StrCat(" (pid ", pid, ")");
}

}  // namespace

absl::StatusOr<FileLock> FileLock::Acquire(const std::string& lock_path, const std::string& flag,
                                           const std::string& what) {
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": cannot open lock file ", lock_path, ": ", strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = HolderOf(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(flag, ": ", what, " is in use by another vhostd", holder, " (lock ", lock_path, ")"));
    }
    return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot lock ", lock_path, ": ", strerror(err)));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot write ", lock_path, ": ", strerror(err)));
  }
  return FileLock(fd, lock_path);
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace vhostd
