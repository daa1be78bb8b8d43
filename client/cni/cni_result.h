// The CNI result type: what ADD prints, what a delegated IPAM plugin returns and what
// prevResult carries; read from and written in any version vhostd-cni speaks.
#ifndef VHOSTD_CLIENT_CNI_CNI_RESULT_H_
#define VHOSTD_CLIENT_CNI_CNI_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {

struct Interface {
  std::string name;
  std::string mac;
  uint32_t mtu = 0;          // 1.1.0 only; 0: not known
  std::string sandbox;       // the netns path; "" on the host
  std::string socket_path;   // 1.1.0 only: vhost-user
  std::string pci_id;        // 1.1.0 only
};

struct IpConfig {
  std::string address;  // CIDR, "10.1.0.5/24"
  std::string gateway;  // "" when none
  std::optional<int> interface;  // index into interfaces
};

struct Result {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<nlohmann::json> routes;  // {dst, gw, ...} as given
  nlohmann::json dns;                  // null or the dns object
};

// Reads a result of any version 0.3.0..1.1.0 (`field` names it in errors, e.g.
// "prevResult"). kDecodingFailure for a shape that is not a result.
absl::StatusOr<Result> ParseResult(const nlohmann::json& document, const std::string& field);

// The result as version `version` writes it: 0.3.x/0.4.0 put "version" in each IP,
// fields newer than the version (interfaces' mtu, socketPath, pciID; routes' mtu,
// advmss, priority, table, scope) are left out.
nlohmann::json FormatResult(const Result& result, const std::string& version);

// An address in CIDR notation: "10.0.0.1/24", "fd00::1/64".
bool ValidCidr(const std::string& text);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_RESULT_H_
