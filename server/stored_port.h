// Ports as the state file holds them: protobuf JSON objects of vhostd.v1.Port, kept as
// google.protobuf.Struct so that the daemon can carry ports whose plugin is not loaded
// (their spec's message type is unknown to it) without understanding them.
#ifndef VHOSTD_SERVER_STORED_PORT_H_
#define VHOSTD_SERVER_STORED_PORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "vhostd/v1/port.pb.h"

namespace vhostd {

// The port's JSON object. Its spec's message type must be known to the process (its
// plugin is loaded).
absl::StatusOr<google::protobuf::Struct> StorePort(const vhostd::v1::Port& port);

// The port a stored object describes; an error if it is not a valid vhostd.v1.Port or
// its spec's message type is unknown (see StoredSpecTypeKnown).
absl::StatusOr<vhostd::v1::Port> ParseStoredPort(const google::protobuf::Struct& stored);

// Fields read without parsing the whole port ("" when absent).
std::string StoredString(const google::protobuf::Struct& stored, const std::string& key);
// The port's labels: those of the "labels" object that are strings.
google::protobuf::Map<std::string, std::string> StoredLabels(const google::protobuf::Struct& stored);
// The full name of the spec's message type ("vhostd.plugins.vdpa.v1.VdpaSpec"), from
// the spec's "@type"; "" without a spec.
std::string StoredSpecType(const google::protobuf::Struct& stored);
// Whether this process has that message type (the plugin that defines it is loaded).
bool StoredSpecTypeKnown(const google::protobuf::Struct& stored);

// Rewrites a port of state format 1 (the spec in a field named after its type:
// vhost_user, vhost_kernel or vdpa) into today's form (type + Any spec). Others are
// left as they are.
void MigrateStoredPortFromVersion1(google::protobuf::Struct& stored);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_STORED_PORT_H_
