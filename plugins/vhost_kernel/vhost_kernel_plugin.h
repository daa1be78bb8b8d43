// The vhost-kernel port type: a tap interface whose packets the kernel's vhost_net
// worker moves to and from vhostd's virtio rings (DPDK net_virtio_user with
// path=/dev/vhost-net). Optionally the tap is moved into a pod's network namespace.
#ifndef VHOSTD_PLUGINS_VHOST_KERNEL_VHOST_KERNEL_PLUGIN_H_
#define VHOSTD_PLUGINS_VHOST_KERNEL_VHOST_KERNEL_PLUGIN_H_

#include <memory>
#include <string>

#include "dataplane/port_plugin.h"

namespace vhostd {

struct VhostKernelPaths {
  std::string vhost_net = "/dev/vhost-net";
  std::string tun = "/dev/net/tun";
};

std::unique_ptr<PortPlugin> MakeVhostKernelPlugin(VhostKernelPaths paths = {});

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_KERNEL_VHOST_KERNEL_PLUGIN_H_
