// vhostd-cni's files on the host: the per-attachment socket directory, the ADD result
// cache, the device-info file, and the host-wide lock that serializes attachments.
#ifndef VHOSTD_CLIENT_CNI_CNI_FILES_H_
#define VHOSTD_CLIENT_CNI_CNI_FILES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cni/cni_config.h"

namespace vhostd_cni {

// Writes `content` to `path` through a temporary file and rename (mode 0600 unless
// given), creating missing parent directories (0700). kIoFailure naming the path.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content, uint32_t mode = 0600);
// nullopt when the file does not exist; kIoFailure when it cannot be read.
absl::StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path);
// Removes a file; absent is fine.
absl::Status RemoveFile(const std::string& path);

// Creates the attachment's socket directory (parents must exist: it is vhostd's socket
// directory) with the options' owner and group and a mode that lets them search it
// (the socket mode plus x where r is set). An existing directory is adjusted.
absl::Status MakeSocketDir(const std::string& dir, const VhostUserOptions& options);
// Gives a socket file the options' owner, group and permissions.
absl::Status SetSocketOwnership(const std::string& path, const VhostUserOptions& options);
// Removes the socket directory and the sockets or files directly in it; absent is fine.
absl::Status RemoveSocketDir(const std::string& dir);

// An exclusive flock on <state_dir>/lock, held until destruction. kTryAgainLater when
// another vhostd-cni holds it past the deadline (a stuck process never wedges the node).
class HostLock {
 public:
  static absl::StatusOr<HostLock> Acquire(const std::string& state_dir, int timeout_ms);
  HostLock(HostLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  ~HostLock();

 private:
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_FILES_H_
