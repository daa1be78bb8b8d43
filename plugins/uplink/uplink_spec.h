// Validation of an uplink port's spec: pure, no side effects. Whether the interface
// exists is Open's business (it is checked whenever the port is opened or retried).
#ifndef VHOSTD_PLUGINS_UPLINK_UPLINK_SPEC_H_
#define VHOSTD_PLUGINS_UPLINK_UPLINK_SPEC_H_

#include <string>

#include "absl/status/status.h"
#include "plugins/uplink/uplink.pb.h"

namespace vhostd::uplink {

using ::vhostd::plugins::uplink::v1::UplinkSpec;
using ::vhostd::plugins::uplink::v1::UplinkStatus;

// Checks `spec` and fills in its defaults (queues 1, promiscuous true). Errors are
// INVALID_ARGUMENT starting with the field ("interface: ...").
absl::Status NormalizeUplinkSpec(UplinkSpec& spec);

// What a port holds exclusively: its interface ("interface veth0").
std::string UplinkResource(const UplinkSpec& spec);

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_UPLINK_SPEC_H_
