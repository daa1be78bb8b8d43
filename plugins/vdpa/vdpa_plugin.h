// The vDPA port type: vhostd drives a vhost-vdpa device's virtqueues through DPDK's
// net_virtio_user (path=/dev/vhost-vdpa-N); the device moves the packets.
#ifndef VHOSTD_PLUGINS_VDPA_VDPA_PLUGIN_H_
#define VHOSTD_PLUGINS_VDPA_VDPA_PLUGIN_H_

#include <memory>

#include "dataplane/port_plugin.h"
#include "plugins/vdpa/vdpa_device.h"

namespace vhostd {

std::unique_ptr<PortPlugin> MakeVdpaPlugin(VdpaLocations locations = {});

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_VDPA_PLUGIN_H_
