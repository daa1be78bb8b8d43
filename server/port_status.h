// A port's vhostd.v1.PortStatus from what its backend reports: the common PortState
// fields, and its plugin's own status message packed into type_status.
#ifndef VHOSTD_SERVER_PORT_STATUS_H_
#define VHOSTD_SERVER_PORT_STATUS_H_

#include "dataplane/port_plugin.h"
#include "google/protobuf/descriptor.h"
#include "vhostd/v1/port.pb.h"

namespace vhostd {

// `status_type`: the plugin's status message (null: it has none). Leaves `lcore` of
// each queue to the caller.
void FillPortStatus(const PortBackend& backend, const google::protobuf::Descriptor* status_type,
                    vhostd::v1::PortStatus* status);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PORT_STATUS_H_
