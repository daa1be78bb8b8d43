// An advisory lock that says "this file belongs to one running vhostd": flock() on a
// lock file next to it, held for the life of the process (the kernel drops it when the
// process dies, so a killed daemon leaves no stale lock). The holder's pid is written
// into the lock file so that a refused daemon can say who holds it.
#ifndef VHOSTD_SERVER_FILE_LOCK_H_
#define VHOSTD_SERVER_FILE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

class FileLock {
 public:
  // Takes the lock on `lock_path` (created 0600 if missing) without waiting. Another
  // holder is FAILED_PRECONDITION: "<flag>: <what> is in use by another vhostd (pid N)".
  static absl::StatusOr<FileLock> Acquire(const std::string& lock_path, const std::string& flag,
                                          const std::string& what);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();  // releases the lock; the file stays (removing it would race a new holder)

  const std::string& path() const { return path_; }

 private:
  FileLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_FILE_LOCK_H_
