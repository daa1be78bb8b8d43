#include "client/cni/cni_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/cni/cni_error.h"

namespace vhostd_cni {
namespace {

absl::Status IoError(const std::string& what, const std::string& path) {
  return CniError(kIoFailure, absl::StrCat(what, " ", path, ": ", strerror(errno)));
}

absl::Status MakeParents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoError("cannot create", dir);
  }
  return absl::OkStatus();
}

absl::Status Own(const std::string& path, const VhostUserOptions& options, uint32_t mode) {
  if ((options.owner || options.group) &&
      chown(path.c_str(), options.owner ? *options.owner : static_cast<uid_t>(-1),
            options.group ? *options.group : static_cast<gid_t>(-1)) != 0) {
    return IoError("cannot chown", path);
  }
  if (chmod(path.c_str(), mode) != 0) return IoError("cannot chmod", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::string& content, uint32_t mode) {
  if (absl::Status s = MakeParents(path); !s.ok()) return s;
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return IoError("cannot create", temp);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      unlink(temp.c_str());
      return IoError("cannot write", temp);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(temp.c_str());
    return IoError("cannot write", temp);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    unlink(temp.c_str());
    return IoError("cannot rename to", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return IoError("cannot read", path);
  }
  std::stringstream content;
  content << in.rdbuf();
  return std::optional<std::string>(content.str());
}

absl::Status RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("cannot remove", path);
  return absl::OkStatus();
}

absl::Status MakeSocketDir(const std::string& dir, const VhostUserOptions& options) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoError("cannot create", dir);
  const uint32_t search = (options.permissions & 0444) >> 2;
  return Own(dir, options, options.permissions | search | 0700);
}

absl::Status SetSocketOwnership(const std::string& path, const VhostUserOptions& options) {
  return Own(path, options, options.permissions);
}

absl::Status RemoveSocketDir(const std::string& dir) {
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return IoError("cannot open", dir);
  }
  while (dirent* entry = readdir(listing)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = absl::StrCat(dir, "/", name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      closedir(listing);
      return IoError("cannot remove", path);
    }
  }
  closedir(listing);
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) return IoError("cannot remove", dir);
  return absl::OkStatus();
}

absl::StatusOr<HostLock> HostLock::Acquire(const std::string& state_dir, int timeout_ms) {
  const std::string path = absl::StrCat(state_dir, "/lock");
  if (absl::Status s = MakeParents(path); !s.ok()) return s;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open", path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      close(fd);
      return IoError("cannot lock", path);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      close(fd);
      return CniError(kTryAgainLater, absl::StrCat("another vhostd-cni holds ", path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return HostLock(fd);
}

HostLock::~HostLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace vhostd_cni
