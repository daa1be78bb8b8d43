// The NPWG device-info file (k8snetworkplumbingwg device-info spec 1.1.0) that vhostd-cni
// writes when the runtime passes runtimeConfig.CNIDeviceInfoFile, so that Multus puts it
// into the pod's network-status annotation.
#ifndef VHOSTD_CLIENT_CNI_CNI_DEVICE_INFO_H_
#define VHOSTD_CLIENT_CNI_CNI_DEVICE_INFO_H_

#include <string>

#include "nlohmann/json.hpp"

namespace vhostd_cni {

// vhost-user: "mode" is the pod's role, the opposite of vhostd's: "client" when vhostd
// listens (the pod connects), "server" when vhostd connects.
nlohmann::json VhostUserDeviceInfo(const std::string& socket_path, bool vhostd_is_server);

// vdpa: `device` as the pool names it (vdpa0 or /dev/vhost-vdpa-N) and the character
// device vhostd opened; the parent device is found under `sysfs_vdpa`
// (/sys/bus/vdpa/devices) when the pool gives a path.
nlohmann::json VdpaDeviceInfo(const std::string& device, const std::string& char_device,
                              const std::string& sysfs_vdpa = "/sys/bus/vdpa/devices");

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_DEVICE_INFO_H_
