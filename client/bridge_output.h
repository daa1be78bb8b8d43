// vhostctl's bridge commands: their requests, made from a parsed Command, and the
// table-mode renderings of bridges and MAC tables.
#ifndef VHOSTD_CLIENT_BRIDGE_OUTPUT_H_
#define VHOSTD_CLIENT_BRIDGE_OUTPUT_H_

#include <string>

#include "client/cli_args.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {

vhostd::v1::CreateBridgeRequest MakeCreateBridgeRequest(const Command& command);
vhostd::v1::AddBridgePortRequest MakeAddBridgePortRequest(const Command& command);

// "access 10", "trunk 10,20", "-".
std::string VlanRuleText(const vhostd::v1::BridgePort& port);
std::string FormatBridgeTable(const vhostd::v1::ListBridgesResponse& response);
std::string FormatBridgeDetails(const vhostd::v1::Bridge& bridge);
std::string FormatMacTable(const vhostd::v1::Bridge& bridge);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_BRIDGE_OUTPUT_H_
