// What the uplink port type needs to know about an existing kernel interface of the
// daemon's network namespace: whether its name can be given to DPDK, its state and
// counters (sysfs: cheap enough for every status call), its channels, its XDP program,
// and whether it is one of this process's own taps.
#ifndef VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_
#define VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace vhostd::uplink {

// OK for a Linux interface name (1..15 bytes, no '/', ':', whitespace or control
// characters, not "." or "..") that DPDK's device arguments can carry (no ',' or '=',
// which Linux allows); otherwise INVALID_ARGUMENT saying why, without a field name.
absl::Status CheckInterfaceName(const std::string& name);

struct InterfaceInfo {
  bool exists = false;
  int ifindex = 0;
  bool admin_up = false;     // IFF_UP
  bool carrier = false;      // the link is up (a VXLAN device has carrier once it is up)
  bool promiscuous = false;  // IFF_PROMISC as a user set it (not the kernel's counter)
  uint32_t mtu = 0;
  std::string mac;
  std::string operstate;  // "up", "down", "lowerlayerdown", "unknown", ...
  uint64_t rx_packets = 0, tx_packets = 0, rx_dropped = 0, tx_dropped = 0;
};

// Reads `sysfs_net`/NAME (/sys/class/net; tests use a fake tree). Sysfs shows the
// namespace it was mounted in: the daemon's (`ip netns exec` mounts its own). A name
// CheckInterfaceName refuses never exists (no path outside the tree).
InterfaceInfo ReadInterfaceInfo(const std::string& name, const std::string& sysfs_net = "/sys/class/net");

// The interface's combined channels as DPDK's net_af_xdp counts them
// (ETHTOOL_GCHANNELS; a device that reports none, such as veth or vxlan, has one):
// AF_XDP binds one socket per channel. 0 if the interface can't be asked.
uint32_t CombinedChannels(const std::string& name);

// The XDP program attached to an interface, as the kernel reports it.
struct XdpProgram {
  uint32_t id = 0;   // 0: none
  std::string mode;  // "native" (in the driver), "generic" (skb), "offload", "multi"; "" if none
};
XdpProgram QueryXdp(int ifindex);

// True if this process holds the tap's file descriptor (/dev/net/tun): the interface is
// a vhost-kernel port of this daemon, and an uplink on it would loop vhostd into itself.
// `proc_self`: /proc/self (tests use a fake tree).
bool IsOwnTap(const std::string& name, const std::string& proc_self = "/proc/self");

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_INTERFACE_INFO_H_
