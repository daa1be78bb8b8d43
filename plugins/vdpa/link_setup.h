// Configuring the kernel network interface a virtio_vdpa device becomes, through
// rtnetlink (libnl-route-3): MTU, MAC, and the move into a network namespace under its
// final name. Each call is one RTM_NEWLINK request, so a failure names one setting.
#ifndef VHOSTD_PLUGINS_VDPA_LINK_SETUP_H_
#define VHOSTD_PLUGINS_VDPA_LINK_SETUP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace vhostd {

// Sets the MTU of `ifname` (in the caller's namespace).
absl::Status SetLinkMtu(const std::string& ifname, uint32_t mtu);

// Sets the MAC address of `ifname` ("xx:xx:xx:xx:xx:xx", already validated) in the
// namespace at `netns_path` ("": the caller's).
absl::Status SetLinkMac(const std::string& ifname, const std::string& mac, const std::string& netns_path = "");

// Moves `ifname` into the namespace at `netns_path` ("": stays in the caller's) with
// the name `new_name`, and brings it up, in one request: the kernel renames the device
// as it moves it, so a same-named interface already in the target (a pod's eth0) does
// not get in the way of the kernel-assigned name.
absl::Status MoveLinkUp(const std::string& ifname, const std::string& netns_path, const std::string& new_name);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_LINK_SETUP_H_
