// Finding and checking a vhost-vdpa character device.
#ifndef VHOSTD_PLUGINS_VDPA_VDPA_DEVICE_H_
#define VHOSTD_PLUGINS_VDPA_VDPA_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

struct VdpaLocations {
  std::string dev = "/dev";
  std::string sysfs_bus = "/sys/bus/vdpa";          // drivers/, drivers_probe
  std::string sysfs_devices = "/sys/bus/vdpa/devices";
  std::string netns_dir = "/var/run/netns";         // where `ip netns` keeps named namespaces
  std::string claims_dir = "/run/vhostd/vdpa";      // devices vhostd moved to virtio_vdpa (vdpa_claim.h)
};

// True for "/dev/vhost-vdpa-<N>" (under `locations.dev`).
bool IsVhostVdpaPath(const std::string& device, const VdpaLocations& locations);
// True for a vdpa device name such as "vdpa0" (1-31 of [A-Za-z0-9_.-]).
bool IsVdpaName(const std::string& device);

// The driver the vdpa device `name` is bound to ("vhost_vdpa", "virtio_vdpa"; "" if none).
std::string BoundVdpaDriver(const std::string& name, const VdpaLocations& locations);

// Resolves a device name through sysfs to its /dev/vhost-vdpa-N, or checks a path.
// NOT_FOUND if there is no such device; FAILED_PRECONDITION if it is bound to a driver
// other than vhost_vdpa (e.g. virtio_vdpa), naming that driver. Errors start with `field`.
absl::StatusOr<std::string> ResolveVhostVdpa(const std::string& device, const VdpaLocations& locations,
                                             const std::string& field);

// FAILED_PRECONDITION if another process holds the device open (vhost-vdpa allows one).
absl::Status CheckNotBusy(const std::string& path, const std::string& field);

// vhost-vdpa pins every page DPDK maps and checks RLIMIT_MEMLOCK without a
// CAP_IPC_LOCK exemption: raise the limit to unlimited or explain which limit blocks.
absl::Status EnsureMemlockUnlimited();

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_VDPA_DEVICE_H_
