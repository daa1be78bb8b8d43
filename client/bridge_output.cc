#include "client/bridge_output.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/output_format.h"

namespace vhostctl {

using vhostd::v1::Bridge;
using vhostd::v1::BridgePort;

vhostd::v1::CreateBridgeRequest MakeCreateBridgeRequest(const Command& command) {
  vhostd::v1::CreateBridgeRequest request;
  request.mutable_bridge()->set_name(command.name);
  if (command.mac_table_size) request.mutable_bridge()->set_mac_table_size(*command.mac_table_size);
  if (command.mac_aging_seconds) request.mutable_bridge()->set_mac_aging_seconds(*command.mac_aging_seconds);
  return request;
}

vhostd::v1::AddBridgePortRequest MakeAddBridgePortRequest(const Command& command) {
  vhostd::v1::AddBridgePortRequest request;
  request.set_bridge(command.name);
  BridgePort* port = request.mutable_port();
  port->set_port(command.args.at(0));
  if (command.access_vlan) port->set_access_vlan(*command.access_vlan);
  if (command.trunk_vlans) {
    for (uint32_t vlan : *command.trunk_vlans) port->mutable_trunk()->add_vlans(vlan);
  }
  return request;
}

std::string VlanRuleText(const BridgePort& port) {
  switch (port.vlan_case()) {
    case BridgePort::kAccessVlan:
      return absl::StrCat("access ", port.access_vlan());
    case BridgePort::kTrunk:
      return absl::StrCat("trunk ", absl::StrJoin(port.trunk().vlans(), ","));
    case BridgePort::VLAN_NOT_SET:
      break;
  }
  return "-";
}

std::string FormatBridgeTable(const vhostd::v1::ListBridgesResponse& response) {
  Table table({{"NAME"}, {"PORTS", Align::kRight}, {"MACS", Align::kRight}, {"FLOODED", Align::kRight}});
  for (const Bridge& b : response.bridges()) {
    table.AddRow({b.name(), absl::StrCat(b.ports_size()), absl::StrCat(b.mac_entries()),
                  absl::StrCat(b.counters().flooded())});
  }
  return table.Render();
}

std::string FormatBridgeDetails(const Bridge& bridge) {
  std::string out = RenderKeyValues({
      {"name", bridge.name()},
      {"mac table", absl::StrCat(bridge.mac_entries(), " of ", bridge.mac_table_size(), " addresses, aging ",
                                 bridge.mac_aging_seconds(), " s")},
      {"flooded", absl::StrCat(bridge.counters().flooded())},
      {"learned", absl::StrCat(bridge.counters().learned())},
      {"table full", absl::StrCat(bridge.counters().table_full())},
      {"vlan dropped", absl::StrCat(bridge.counters().vlan_dropped())},
  });
  if (bridge.ports().empty()) return absl::StrCat(out, "ports:  none\n");
  Table table({{"PORT"},
               {"VLAN"},
               {"FLOODED", Align::kRight},
               {"LEARNED", Align::kRight},
               {"TABLE_FULL", Align::kRight},
               {"VLAN_DROPPED", Align::kRight}});
  for (const BridgePort& p : bridge.ports()) {
    table.AddRow({p.port(), VlanRuleText(p), absl::StrCat(p.counters().flooded()), absl::StrCat(p.counters().learned()),
                  absl::StrCat(p.counters().table_full()), absl::StrCat(p.counters().vlan_dropped())});
  }
  return absl::StrCat(out, "\n", table.Render());
}

std::string FormatMacTable(const Bridge& bridge) {
  Table table({{"MAC"}, {"VLAN", Align::kRight}, {"PORT"}, {"AGE", Align::kRight}});
  for (const vhostd::v1::MacTableEntry& e : bridge.mac_addresses()) {
    table.AddRow({e.mac(), absl::StrCat(e.vlan()), e.port(), absl::StrFormat("%.1f", e.age_seconds())});
  }
  return table.Render();
}

}  // namespace vhostctl
