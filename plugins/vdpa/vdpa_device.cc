#include "plugins/vdpa/vdpa_device.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

constexpr char kVhostVdpaPrefix[] = "vhost-vdpa-";

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string BoundDriverOfDir(const std::string& device_dir) {
  char target[PATH_MAX];
  const ssize_t n = readlink((device_dir + "/driver").c_str(), target, sizeof(target) - 1);
  if (n <= 0) return "";
  target[n] = '\0';
  return Basename(target);
}

// The "vhost-vdpa-N" entry a vhost_vdpa-bound device has in its sysfs directory.
std::string VhostVdpaChild(const std::string& device_dir) {
  std::string child;
  if (DIR* dir = opendir(device_dir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      if (absl::StartsWith(entry->d_name, kVhostVdpaPrefix)) child = entry->d_name;
    }
    closedir(dir);
  }
  return child;
}

}  // namespace

std::string BoundVdpaDriver(const std::string& name, const VdpaLocations& locations) {
  return BoundDriverOfDir(absl::StrCat(locations.sysfs_devices, "/", name));
}

bool IsVhostVdpaPath(const std::string& device, const VdpaLocations& locations) {
  const std::string prefix = absl::StrCat(locations.dev, "/", kVhostVdpaPrefix);
  unsigned index = 0;
  return absl::StartsWith(device, prefix) && device.size() > prefix.size() &&
         absl::SimpleAtoi(device.substr(prefix.size()), &index) &&
         device.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

bool IsVdpaName(const std::string& device) {
  if (device.empty() || device.size() > 31 || device == "." || device == "..") return false;
  for (char c : device) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::string> ResolveVhostVdpa(const std::string& device, const VdpaLocations& locations,
                                             const std::string& field) {
  if (IsVhostVdpaPath(device, locations)) {
    struct stat st;
    if (stat(device.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat(field, ": ", device, " does not exist"));
    }
    if (!S_ISCHR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(field, ": ", device, " is not a character device"));
    }
    return device;
  }
  if (!IsVdpaName(device)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", device, "\" is not a vdpa device name"));
  }
  const std::string dir = absl::StrCat(locations.sysfs_devices, "/", device);
  if (access(dir.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(field, ": no vdpa device named ", device, " (see `vdpa dev show`)"));
  }
  const std::string driver = BoundDriverOfDir(dir);
  if (driver != "vhost_vdpa") {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ": vdpa device ", device, " is bound to ", driver.empty() ? "no driver" : "driver " + driver,
        ", not vhost_vdpa"));
  }
  const std::string child = VhostVdpaChild(dir);
  if (child.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": vdpa device ", device, " has no vhost-vdpa node"));
  }
  // The node must be there and be a character device, as for a path given directly.
  return ResolveVhostVdpa(absl::StrCat(locations.dev, "/", child), locations, field);
}

absl::Status CheckNotBusy(const std::string& path, const std::string& field) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return absl::OkStatus();
  }
  if (errno == EBUSY) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": ", path, " is busy (opened by another process)"));
  }
  return absl::FailedPreconditionError(absl::StrCat(field, ": cannot open ", path, ": ", strerror(errno)));
}

absl::Status EnsureMemlockUnlimited() {
  rlimit limit{};
  if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY) return absl::OkStatus();
  const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "RLIMIT_MEMLOCK is ", limit.rlim_cur / 1024, " KiB and cannot be raised (", strerror(errno),
      "): vhost-vdpa pins all of DPDK's memory; start vhostd with `ulimit -l unlimited` or LimitMEMLOCK=infinity"));
}

}  // namespace vhostd
