// What the kernel says about a network interface of this namespace, read from sysfs
// (/sys/class/net/IF): cheap enough for every status call, and it needs no netlink.
#ifndef VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_
#define VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_

#include <cstdint>
#include <string>

namespace vhostd {

struct InterfaceInfo {
  bool exists = false;
  int ifindex = 0;
  bool admin_up = false;  // IFF_UP
  bool carrier = false;   // the link is up (a VXLAN device has carrier once it is up)
  uint32_t mtu = 0;
  std::string mac;
  uint64_t rx_packets = 0, tx_packets = 0, rx_dropped = 0, tx_dropped = 0;
};

// `sysfs_net`: the directory of interfaces (/sys/class/net; tests use a fake tree).
InterfaceInfo ReadInterfaceInfo(const std::string& name, const std::string& sysfs_net = "/sys/class/net");

// The interface's receive queues (queues/rx-N entries), 0 if unknown.
int CountRxQueues(const std::string& name, const std::string& sysfs_net = "/sys/class/net");

// A valid Linux interface name: 1-15 characters, none of '/', ':', whitespace, and
// not "." or "..".
bool ValidInterfaceName(const std::string& name);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_
