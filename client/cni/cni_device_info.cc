#include "client/cni/cni_device_info.h"

#include <dirent.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vhostd_cni {
namespace {

constexpr char kDeviceInfoVersion[] = "1.1.0";

// The vdpa device under `sysfs_vdpa` whose vhost-vdpa-N child is `char_device`'s.
std::string ParentOf(const std::string& char_device, const std::string& sysfs_vdpa) {
  const std::string leaf = char_device.substr(char_device.rfind('/') + 1);
  DIR* dir = opendir(sysfs_vdpa.c_str());
  if (dir == nullptr) return "";
  std::string parent;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (stat(absl::StrCat(sysfs_vdpa, "/", name, "/", leaf).c_str(), &st) == 0) {
      parent = name;
      break;
    }
  }
  closedir(dir);
  return parent;
}

}  // namespace

nlohmann::json VhostUserDeviceInfo(const std::string& socket_path, bool vhostd_is_server) {
  return {{"type", "vhost-user"},
          {"version", kDeviceInfoVersion},
          {"vhost-user", {{"mode", vhostd_is_server ? "client" : "server"}, {"path", socket_path}}}};
}

nlohmann::json VdpaDeviceInfo(const std::string& device, const std::string& char_device,
                              const std::string& sysfs_vdpa) {
  const std::string path = !char_device.empty() ? char_device : device;
  const std::string parent = absl::StartsWith(device, "/") ? ParentOf(path, sysfs_vdpa) : device;
  nlohmann::json vdpa = {{"driver", "vhost"}, {"path", path}};
  if (!parent.empty()) vdpa["parent-device"] = parent;
  return {{"type", "vdpa"}, {"version", kDeviceInfoVersion}, {"vdpa", vdpa}};
}

}  // namespace vhostd_cni
