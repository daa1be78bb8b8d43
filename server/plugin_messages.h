// The daemon's side of plugin-owned messages: where a plugin's errors sit in the API,
// and how clients learn a plugin's messages (ListPlugins).
#ifndef VHOSTD_SERVER_PLUGIN_MESSAGES_H_
#define VHOSTD_SERVER_PLUGIN_MESSAGES_H_

#include <string>

#include "absl/status/status.h"
#include "dataplane/plugin_registry.h"
#include "google/protobuf/descriptor.h"
#include "server/names.h"  // LimitForMessage
#include "vhostd/v1/system.pb.h"

namespace vhostd {

// A plugin's error about its spec in API terms: a message that starts with one of
// the spec's fields ("queues: ...", "socket_path: ...") gets the spec's place in the
// request in front ("port.spec.queues: ..."). Other errors are returned as they are.
absl::Status InSpec(const absl::Status& status, const google::protobuf::Descriptor& spec_type);

// Sets `plugin`'s spec_type, status_type and descriptors (their files and all they
// import, dependencies first).
void DescribeMessages(const PortPlugin& port_plugin, vhostd::v1::Plugin* plugin);

// "vdpa, vhost-kernel, vhost-user": the types a registry serves, for error messages.
std::string LoadedTypes(const PluginRegistry& plugins);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PLUGIN_MESSAGES_H_
