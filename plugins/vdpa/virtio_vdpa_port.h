// A vdpa port on the virtio bus (spec.bus VIRTIO_VDPA): the device is bound to
// virtio_vdpa, and the network interface the kernel's virtio-net driver makes of it is
// renamed, given its MAC and MTU, moved into the spec's netns and brought up. The device
// and the kernel move its packets; vhostd has no data path for it (no queues, refused in
// cross-connects). Closing the port binds the device back to the driver it had.
#ifndef VHOSTD_PLUGINS_VDPA_VIRTIO_VDPA_PORT_H_
#define VHOSTD_PLUGINS_VDPA_VIRTIO_VDPA_PORT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "dataplane/port_plugin.h"
#include "plugins/vdpa/vdpa.pb.h"
#include "plugins/vdpa/vdpa_device.h"

namespace vhostd {

// Checks the VIRTIO_VDPA fields of a normalized spec against the host (device free,
// driver loaded, netns there, interface name unused) and opens the port. Errors name
// the spec field; on error the device is bound as it was found.
absl::StatusOr<std::unique_ptr<PortBackend>> OpenVirtioVdpaPort(const plugins::vdpa::v1::VdpaSpec& spec,
                                                                const VdpaLocations& locations);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_VIRTIO_VDPA_PORT_H_
