// Moving a vdpa device between the vdpa bus's drivers (vhost_vdpa, virtio_vdpa) through
// sysfs, and finding the network interface that virtio_vdpa's virtio-net device made.
// The kernel side: unbind from the current driver, pin the wanted one with
// driver_override, then ask the bus to probe the device again.
#ifndef VHOSTD_PLUGINS_VDPA_VDPA_BUS_H_
#define VHOSTD_PLUGINS_VDPA_VDPA_BUS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugins/vdpa/vdpa_device.h"

namespace vhostd {

// How a device was bound before vhostd moved it, so that it can be put back.
struct VdpaBinding {
  std::string driver;           // "" if none
  std::string driver_override;  // "" if none
};

// True if the bus has a driver of that name (its module is loaded).
bool VdpaDriverLoaded(const std::string& driver, const VdpaLocations& locations);

// The device's current driver and driver_override (sysfs shows "(null)" for none).
absl::StatusOr<VdpaBinding> ReadVdpaBinding(const std::string& name, const VdpaLocations& locations);

// Unbinds the device from its driver, if any, and binds it to `driver` (pinned through
// driver_override, which is left set to `driver`); with "" it stays unbound and
// driver_override is cleared. Checks that the device ended up on `driver`.
absl::Status BindVdpaDevice(const std::string& name, const std::string& driver, const VdpaLocations& locations);

// Binds the device as `binding` describes and restores its driver_override.
absl::Status RestoreVdpaBinding(const std::string& name, const VdpaBinding& binding, const VdpaLocations& locations);

// The network interfaces of the virtio devices under the vdpa device (what
// virtio_vdpa + virtio_net create): sysfs_devices/NAME/virtio*/net/IFNAME. Sorted.
std::vector<std::string> VirtioNetInterfaces(const std::string& name, const VdpaLocations& locations);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_VDPA_BUS_H_
