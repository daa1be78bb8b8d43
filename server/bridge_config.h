// Validation of bridge requests (names, MAC table settings, VLAN rules) and the data
// plane's form of a port's VLAN rule. Errors are INVALID_ARGUMENT naming the field.
#ifndef VHOSTD_SERVER_BRIDGE_CONFIG_H_
#define VHOSTD_SERVER_BRIDGE_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/bridge.h"
#include "vhostd/v1/bridge.pb.h"

namespace vhostd {

inline constexpr uint32_t kDefaultMacTableSize = 2048;  // Open vSwitch's default
inline constexpr uint32_t kMaxMacTableSize = 1 << 20;
inline constexpr uint32_t kDefaultMacAgingSeconds = 300;
inline constexpr uint32_t kMaxMacAgingSeconds = 86400;

// The bridge of a CreateBridge request with defaults filled in: name and MAC table
// settings only. `field` prefixes the error ("bridge").
absl::StatusOr<vhostd::v1::Bridge> NormalizeBridge(const vhostd::v1::Bridge& bridge, const std::string& field);

// A port's membership as stored: name and VLAN rule (trunk VLANs sorted, each once).
absl::StatusOr<vhostd::v1::BridgePort> NormalizeBridgePort(const vhostd::v1::BridgePort& port,
                                                           const std::string& field);

// A bridge from the state file (settings and ports) normalized; the error names the
// bridge and the field.
absl::StatusOr<vhostd::v1::Bridge> NormalizeStoredBridge(const vhostd::v1::Bridge& bridge);

VlanRule ToVlanRule(const vhostd::v1::BridgePort& port);

// "02:00:00:00:00:0a"
std::string FormatMac(MacAddress mac);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_BRIDGE_CONFIG_H_
