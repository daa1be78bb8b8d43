#include "plugins/vdpa/vdpa_bus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vhostd {
namespace {

std::string DeviceDir(const std::string& name, const VdpaLocations& locations) {
  return absl::StrCat(locations.sysfs_devices, "/", name);
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* handle = opendir(dir.c_str())) {
    while (dirent* entry = readdir(handle)) {
      if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) names.push_back(entry->d_name);
    }
    closedir(handle);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A sysfs attribute write: one write() of the whole value, the kernel acts on it.
// Never creates the file (a missing attribute means a missing driver or device);
// O_TRUNC as a shell's `>` (sysfs ignores it).
absl::Status WriteAttribute(const std::string& path, const std::string& value) {
  const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("open ", path, ": ", strerror(errno)));
  const ssize_t written = write(fd, value.data(), value.size());
  const int error = errno;
  close(fd);
  if (written != static_cast<ssize_t>(value.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("write \"", value, "\" to ", path, ": ", written < 0 ? strerror(error) : "short write"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAttribute(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("open ", path, ": ", strerror(errno)));
  char buffer[256];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  const int error = errno;
  close(fd);
  if (n < 0) return absl::FailedPreconditionError(absl::StrCat("read ", path, ": ", strerror(error)));
  return std::string(absl::StripTrailingAsciiWhitespace(absl::string_view(buffer, static_cast<size_t>(n))));
}

absl::Status WriteDriverOverride(const std::string& name, const std::string& driver, const VdpaLocations& locations) {
  // A lone newline clears the override.
  return WriteAttribute(absl::StrCat(DeviceDir(name, locations), "/driver_override"), driver.empty() ? "\n" : driver);
}

}  // namespace

bool VdpaDriverLoaded(const std::string& driver, const VdpaLocations& locations) {
  return access(absl::StrCat(locations.sysfs_bus, "/drivers/", driver).c_str(), F_OK) == 0;
}

absl::StatusOr<VdpaBinding> ReadVdpaBinding(const std::string& name, const VdpaLocations& locations) {
  absl::StatusOr<std::string> override = ReadAttribute(absl::StrCat(DeviceDir(name, locations), "/driver_override"));
  if (!override.ok()) return override.status();
  VdpaBinding binding;
  binding.driver = BoundVdpaDriver(name, locations);
  if (*override != "(null)") binding.driver_override = *override;
  return binding;
}

absl::Status BindVdpaDevice(const std::string& name, const std::string& driver, const VdpaLocations& locations) {
  const std::string dir = DeviceDir(name, locations);
  if (!BoundVdpaDriver(name, locations).empty()) {
    if (absl::Status s = WriteAttribute(dir + "/driver/unbind", name); !s.ok()) return s;
  }
  if (absl::Status s = WriteDriverOverride(name, driver, locations); !s.ok()) return s;
  if (driver.empty()) return absl::OkStatus();
  if (absl::Status s = WriteAttribute(locations.sysfs_bus + "/drivers_probe", name); !s.ok()) return s;
  const std::string bound = BoundVdpaDriver(name, locations);
  if (bound != driver) {
    return absl::FailedPreconditionError(absl::StrCat("vdpa device ", name, " did not bind to ", driver, " (",
                                                      bound.empty() ? "no driver" : "bound to " + bound, ")"));
  }
  return absl::OkStatus();
}

absl::Status RestoreVdpaBinding(const std::string& name, const VdpaBinding& binding, const VdpaLocations& locations) {
  if (absl::Status s = BindVdpaDevice(name, binding.driver, locations); !s.ok()) return s;
  if (binding.driver_override == binding.driver) return absl::OkStatus();
  return WriteDriverOverride(name, binding.driver_override, locations);
}

std::vector<std::string> VirtioNetInterfaces(const std::string& name, const VdpaLocations& locations) {
  std::vector<std::string> interfaces;
  const std::string dir = DeviceDir(name, locations);
  for (const std::string& child : Entries(dir)) {
    if (!absl::StartsWith(child, "virtio")) continue;
    for (const std::string& ifname : Entries(absl::StrCat(dir, "/", child, "/net"))) interfaces.push_back(ifname);
  }
  return interfaces;
}

}  // namespace vhostd
