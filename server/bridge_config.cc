#include "server/bridge_config.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/names.h"

namespace vhostd {
namespace {

absl::Status CheckVlan(uint32_t vlan, const std::string& field) {
  if (vlan >= 1 && vlan <= MacTable::kMaxVlan) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": VLAN ", vlan, " is outside 1..", MacTable::kMaxVlan));
}

}  // namespace

absl::StatusOr<vhostd::v1::Bridge> NormalizeBridge(const vhostd::v1::Bridge& bridge, const std::string& field) {
  if (absl::Status s = ValidateName(bridge.name(), field + ".name"); !s.ok()) return s;
  if (bridge.ports_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".ports: output only; attach ports with AddBridgePort"));
  }
  if (bridge.mac_table_size() > kMaxMacTableSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".mac_table_size: ", bridge.mac_table_size(), " is above the most, ", kMaxMacTableSize));
  }
  if (bridge.mac_aging_seconds() > kMaxMacAgingSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".mac_aging_seconds: ", bridge.mac_aging_seconds(),
                                                   " is above the most, ", kMaxMacAgingSeconds));
  }
  vhostd::v1::Bridge normalized;
  normalized.set_name(bridge.name());
  normalized.set_mac_table_size(bridge.mac_table_size() ? bridge.mac_table_size() : kDefaultMacTableSize);
  normalized.set_mac_aging_seconds(bridge.mac_aging_seconds() ? bridge.mac_aging_seconds()
                                                              : kDefaultMacAgingSeconds);
  return normalized;
}

absl::StatusOr<vhostd::v1::BridgePort> NormalizeBridgePort(const vhostd::v1::BridgePort& port,
                                                           const std::string& field) {
  if (absl::Status s = ValidateName(port.port(), field + ".port"); !s.ok()) return s;
  vhostd::v1::BridgePort normalized;
  normalized.set_port(port.port());
  switch (port.vlan_case()) {
    case vhostd::v1::BridgePort::kAccessVlan:
      if (absl::Status s = CheckVlan(port.access_vlan(), field + ".access_vlan"); !s.ok()) return s;
      normalized.set_access_vlan(port.access_vlan());
      break;
    case vhostd::v1::BridgePort::kTrunk: {
      if (port.trunk().vlans().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".trunk.vlans: list at least one VLAN"));
      }
      std::vector<uint32_t> vlans;
      for (int i = 0; i < port.trunk().vlans_size(); ++i) {
        if (absl::Status s = CheckVlan(port.trunk().vlans(i), absl::StrCat(field, ".trunk.vlans[", i, "]")); !s.ok()) {
          return s;
        }
        vlans.push_back(port.trunk().vlans(i));
      }
      std::sort(vlans.begin(), vlans.end());
      vlans.erase(std::unique(vlans.begin(), vlans.end()), vlans.end());
      for (uint32_t v : vlans) normalized.mutable_trunk()->add_vlans(v);
      break;
    }
    case vhostd::v1::BridgePort::VLAN_NOT_SET:
      break;
  }
  return normalized;
}

absl::StatusOr<vhostd::v1::Bridge> NormalizeStoredBridge(const vhostd::v1::Bridge& bridge) {
  vhostd::v1::Bridge settings = bridge;
  settings.clear_ports();
  const std::string field = absl::StrCat("bridge ", bridge.name());
  absl::StatusOr<vhostd::v1::Bridge> normalized = NormalizeBridge(settings, field);
  if (!normalized.ok()) return normalized.status();
  if (bridge.ports_size() > kMaxBridgePorts) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".ports: more than ", kMaxBridgePorts));
  }
  for (int i = 0; i < bridge.ports_size(); ++i) {
    absl::StatusOr<vhostd::v1::BridgePort> port = NormalizeBridgePort(bridge.ports(i), absl::StrCat(field, ".ports[", i, "]"));
    if (!port.ok()) return port.status();
    *normalized->add_ports() = *port;
  }
  return normalized;
}

VlanRule ToVlanRule(const vhostd::v1::BridgePort& port) {
  VlanRule rule;
  if (port.vlan_case() == vhostd::v1::BridgePort::kAccessVlan) {
    rule.mode = VlanMode::kAccess;
    rule.access_vlan = static_cast<uint16_t>(port.access_vlan());
  } else if (port.vlan_case() == vhostd::v1::BridgePort::kTrunk) {
    rule.mode = VlanMode::kTrunk;
    for (uint32_t v : port.trunk().vlans()) rule.Allow(static_cast<uint16_t>(v));
  }
  return rule;
}

std::string FormatMac(MacAddress mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", (mac >> 40) & 0xff, (mac >> 32) & 0xff, (mac >> 24) & 0xff,
                         (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff);
}

}  // namespace vhostd
