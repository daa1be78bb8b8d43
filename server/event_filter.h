// What a WatchEvents request may ask for, and which events its port filter keeps.
#ifndef VHOSTD_SERVER_EVENT_FILTER_H_
#define VHOSTD_SERVER_EVENT_FILTER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "vhostd/v1/event.pb.h"

namespace vhostd {

// The bounds of WatchEventsRequest.stats_interval (those of vhostctl's --interval).
inline constexpr absl::Duration kMinStatsInterval = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxStatsInterval = absl::Hours(1);

// INVALID_ARGUMENT naming the field: a port filter that is no port name, an
// instance_id that is no Event.instance_id (32 lowercase hex digits) or comes without
// after_sequence, a stats_interval without follow or out of its bounds.
absl::Status ValidateWatchRequest(const vhostd::v1::WatchEventsRequest& request);

// The request's stats_interval (valid), or zero without one.
absl::Duration StatsInterval(const vhostd::v1::WatchEventsRequest& request);

// Whether a watch filtered on `port` sends `event`: events about the port itself, the
// cross-connects it is in and its bridge memberships, and every EventsMissed marker.
bool EventConcernsPort(const vhostd::v1::Event& event, const std::string& port);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_EVENT_FILTER_H_
