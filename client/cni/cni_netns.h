// The container's side of a vhost-kernel port: its tap inside CNI_NETNS, configured
// with the addresses and routes IPAM gave, through iproute2's `ip` run in that netns.
#ifndef VHOSTD_CLIENT_CNI_CNI_NETNS_H_
#define VHOSTD_CLIENT_CNI_CNI_NETNS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cni/cni_result.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {

class NetnsLink {
 public:
  NetnsLink(std::string netns, std::string ifname, int timeout_ms)
      : netns_(std::move(netns)), ifname_(std::move(ifname)), timeout_ms_(timeout_ms) {}

  // Whether the interface exists (kUnknownContainer when the netns cannot be entered).
  absl::StatusOr<bool> Exists();
  // `ip -j link show` of the interface: {"ifname", "address", "mtu", "operstate", ...}.
  absl::StatusOr<nlohmann::json> Show();
  // Link up, then the IPs of `result` for interface `index` and all its routes (a route
  // without gw takes the gateway of an IP of its family, as the spec allows).
  absl::Status Configure(const Result& result, int index);
  // kCheckFailed naming what is missing: the interface, link up, the IPs of `result`
  // for interface `index`.
  absl::Status Check(const Result& result, int index);

 private:
  absl::StatusOr<std::string> Ip(const std::vector<std::string>& args);

  std::string netns_;
  std::string ifname_;
  int timeout_ms_;
};

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_NETNS_H_
