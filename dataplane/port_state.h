// What every port reports, whatever its type: the common part of a port's status. The
// daemon turns it into vhostd.v1.PortStatus; what only one type knows goes into that
// type's own status message instead (PortPlugin::status_type).
#ifndef VHOSTD_DATAPLANE_PORT_STATE_H_
#define VHOSTD_DATAPLANE_PORT_STATE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vhostd {

// Values equal vhostd.v1.PortStatus.State's.
enum class PortLinkState : int {
  kUnspecified = 0,
  kWaitingForPeer = 1,  // no frontend attached yet (or it went away)
  kUp = 2,
  kDown = 3,            // attached, link down
  kError = 4,           // the port cannot work; `message` says why
};

struct QueueState {
  uint32_t queue = 0;      // queue pair index
  bool rx_enabled = false; // the frontend enabled the ring vhostd receives from
  bool tx_enabled = false; // ... and the one it transmits to
};

struct PortState {
  PortLinkState state = PortLinkState::kUnspecified;
  std::string message;
  uint64_t negotiated_features = 0;  // virtio feature bits acked by the frontend
  std::vector<std::string> negotiated_feature_names;
  std::vector<QueueState> queues;
  std::string mac;
  uint64_t frontend_connects = 0;
  uint64_t frontend_disconnects = 0;
  std::string backend;  // how the port is realised ("vhost-user", "vhost-net", "af_xdp", ...)
  uint32_t mtu = 0;     // 0: unknown
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PORT_STATE_H_
