// The events a change of one port's status means (frontend connects and disconnects,
// queues enabled or disabled, features negotiated, the state), from two looks at it.
// The data plane only says "something changed" (PortEvents::PortChanged, on lib/vhost's
// thread, which must not block); the reconciler then looks at every port and diffs.
// Connects and disconnects are counted by the data plane, so none is lost between two
// looks; a queue enabled and disabled again between them is not seen.
#ifndef VHOSTD_SERVER_STATUS_EVENTS_H_
#define VHOSTD_SERVER_STATUS_EVENTS_H_

#include <string>
#include <vector>

#include "vhostd/v1/event.pb.h"
#include "vhostd/v1/port.pb.h"

namespace vhostd {

// At most this many connect (or disconnect) events for one diff; a larger jump (a
// frontend reconnecting in a loop) reports its last ones, whose counts show the jump.
inline constexpr uint64_t kMaxConnectEventsPerLook = 64;

// In this order: disconnects and connects (interleaved as they must have happened),
// features, queues by index, then the state. Events are unstamped (see EventLog).
std::vector<vhostd::v1::Event> StatusEvents(const std::string& port, const vhostd::v1::PortStatus& before,
                                            const vhostd::v1::PortStatus& after);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_STATUS_EVENTS_H_
