// Kernel network interface operations for tap ports: address, MTU, link state, and
// moving an interface into another network namespace (the CNI case).
#ifndef VHOSTD_PLUGINS_VHOST_KERNEL_NETDEV_H_
#define VHOSTD_PLUGINS_VHOST_KERNEL_NETDEV_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

using MacAddress = std::array<uint8_t, 6>;

// Parses "xx:xx:xx:xx:xx:xx"; the address must be unicast and not all zero.
absl::StatusOr<MacAddress> ParseUnicastMac(const std::string& text);
std::string FormatMac(const MacAddress& mac);

// A valid Linux interface name: 1..15 bytes, no '/', ':' or whitespace, not "." or "..".
bool ValidInterfaceName(const std::string& name);

// True if an interface of that name exists in the caller's network namespace.
bool InterfaceExists(const std::string& name);

// Sets the address / MTU of `ifname` and brings it up, in the caller's namespace.
absl::Status ConfigureInterface(const std::string& ifname, const MacAddress* mac, uint32_t mtu);

// Moves `ifname` into the namespace at `netns_path`, renames it to `new_name` there,
// and brings it up. The tap keeps working: its file descriptor stays with vhostd.
absl::Status MoveToNamespace(const std::string& ifname, const std::string& netns_path, const std::string& new_name);

// Reads the MTU and whether the link is up, in the namespace at `netns_path` ("" for
// the caller's own).
struct InterfaceState {
  uint32_t mtu = 0;
  bool up = false;
  bool exists = false;
  std::string mac;
};
InterfaceState ReadInterface(const std::string& ifname, const std::string& netns_path);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_KERNEL_NETDEV_H_
