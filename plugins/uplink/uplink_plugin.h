// The uplink port type: an existing kernel interface (NIC, bond, VLAN, VXLAN, veth) as
// a vhostd port, through DPDK's net_af_xdp, or net_af_packet where AF_XDP can't be used.
#ifndef VHOSTD_PLUGINS_UPLINK_UPLINK_PLUGIN_H_
#define VHOSTD_PLUGINS_UPLINK_UPLINK_PLUGIN_H_

#include <memory>
#include <string>

#include "dataplane/port_plugin.h"

namespace vhostd {

// `sysfs_net`: where interfaces are looked up (tests use a fake tree).
std::unique_ptr<PortPlugin> MakeUplinkPlugin(const std::string& sysfs_net = "/sys/class/net");

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_UPLINK_UPLINK_PLUGIN_H_
