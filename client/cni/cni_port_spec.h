// The vhostd port an attachment gets: the config's portType and spec (protobuf JSON of
// the type's spec message, which vhostd-cni learns from ListPlugins' descriptors, as
// vhostctl does), plus the fields vhostd-cni owns for the types it knows:
//   vhost-user    socketPath (the attachment's socket), mode
//   vhost-kernel  tapName (CNI_IFNAME), netns (CNI_NETNS), mac, mtu
//   vdpa          device (one of vdpa.devices not used by another port)
// Any other type gets the config's spec as it is.
#ifndef VHOSTD_CLIENT_CNI_CNI_PORT_SPEC_H_
#define VHOSTD_CLIENT_CNI_CNI_PORT_SPEC_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cni/cni_attachment.h"
#include "client/cni/cni_config.h"
#include "client/cni/cni_env.h"
#include "client/type_catalog.h"
#include "vhostd/v1/port.pb.h"

namespace vhostd_cni {

// The port for the attachment (name, type, spec). kInvalidConfig naming the field when
// the daemon serves no such type, the spec does not parse as the type's message, or it
// sets a field vhostd-cni owns; kDaemonRefused when the type is unavailable on the host.
absl::StatusOr<vhostd::v1::Port> BuildPort(const NetConf& net, const Environment& env,
                                           const AttachmentNames& names, const std::string& vdpa_device,
                                           vhostctl::TypeCatalog& catalog);

// The string field `json_name` ("devicePath") of `message`, "" when it has none.
std::string StringField(const google::protobuf::Message& message, const std::string& json_name);

// The string field `json_name` of a port's spec ("" when absent or not readable).
std::string SpecString(vhostctl::TypeCatalog& catalog, const vhostd::v1::Port& port, const std::string& json_name);

// The first device of `pool` not in `used`; kResourceExhausted when all are.
absl::StatusOr<std::string> PickDevice(const std::vector<std::string>& pool, const std::set<std::string>& used);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_PORT_SPEC_H_
