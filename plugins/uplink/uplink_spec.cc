#include "plugins/uplink/uplink_spec.h"

#include "absl/strings/str_cat.h"
#include "dataplane/port_plugin.h"
#include "plugins/uplink/interface_info.h"

namespace vhostd::uplink {

absl::Status NormalizeUplinkSpec(UplinkSpec& spec) {
  if (absl::Status name = CheckInterfaceName(spec.interface()); !name.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("interface: ", name.message()));
  }
  // proto3 enums are open: a client may send any number.
  if (!UplinkSpec::Mode_IsValid(spec.mode())) {
    return absl::InvalidArgumentError(absl::StrCat("mode: ", static_cast<int>(spec.mode()),
                                                   " is not a mode (MODE_AUTO, MODE_AF_XDP, MODE_AF_PACKET)"));
  }
  if (absl::Status queues = NormalizeQueueCount(spec); !queues.ok()) return queues;
  if (!spec.has_promiscuous()) spec.set_promiscuous(true);
  return absl::OkStatus();
}

std::string UplinkResource(const UplinkSpec& spec) { return absl::StrCat("interface ", spec.interface()); }

}  // namespace vhostd::uplink
