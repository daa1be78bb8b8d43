#include "server/event_filter.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/names.h"

namespace vhostd {

using vhostd::v1::Event;

absl::Status ValidateWatchRequest(const vhostd::v1::WatchEventsRequest& request) {
  if (!request.port().empty()) {
    if (absl::Status s = ValidateName(request.port(), "port"); !s.ok()) return s;
  }
  if (request.has_stats_interval()) {
    const google::protobuf::Duration& interval = request.stats_interval();
    if (!request.follow()) return absl::InvalidArgumentError("stats_interval: only with follow");
    const absl::Duration d = StatsInterval(request);
    if (interval.nanos() < 0 || interval.nanos() > 999999999 || d < kMinStatsInterval || d > kMaxStatsInterval) {
      return absl::InvalidArgumentError(absl::StrCat("stats_interval: must be from ", absl::FormatDuration(kMinStatsInterval),
                                                     " to ", absl::FormatDuration(kMaxStatsInterval)));
    }
  }
  const std::string& id = request.instance_id();
  if (id.empty()) return absl::OkStatus();
  if (!request.has_after_sequence()) {
    return absl::InvalidArgumentError("instance_id: only with after_sequence (it says where that number is from)");
  }
  bool hex = id.size() == 32;
  for (char c : id) hex = hex && absl::ascii_isxdigit(c) && !absl::ascii_isupper(c);
  if (!hex) return absl::InvalidArgumentError("instance_id: must be an Event.instance_id (32 lowercase hex digits)");
  return absl::OkStatus();
}

bool EventConcernsPort(const Event& event, const std::string& port) {
  switch (event.kind_case()) {
    case Event::kPortCreated:
      return event.port_created().port().name() == port;
    case Event::kPortDeleted:
      return event.port_deleted().port() == port;
    case Event::kPortStateChanged:
      return event.port_state_changed().port() == port;
    case Event::kFrontendConnected:
      return event.frontend_connected().port() == port;
    case Event::kFrontendDisconnected:
      return event.frontend_disconnected().port() == port;
    case Event::kQueueStateChanged:
      return event.queue_state_changed().port() == port;
    case Event::kFeaturesNegotiated:
      return event.features_negotiated().port() == port;
    case Event::kCrossConnectCreated:
      return event.cross_connect_created().cross_connect().port_a() == port ||
             event.cross_connect_created().cross_connect().port_b() == port;
    case Event::kCrossConnectDeleted:
      return event.cross_connect_deleted().cross_connect().port_a() == port ||
             event.cross_connect_deleted().cross_connect().port_b() == port;
    case Event::kBridgeChanged:
      return event.bridge_changed().port() == port;
    case Event::kEventsMissed:
    case Event::kStatsSample:
      return true;
    case Event::KIND_NOT_SET:
      break;
  }
  return false;
}

absl::Duration StatsInterval(const vhostd::v1::WatchEventsRequest& request) {
  if (!request.has_stats_interval()) return absl::ZeroDuration();
  return absl::Seconds(request.stats_interval().seconds()) + absl::Nanoseconds(request.stats_interval().nanos());
}

}  // namespace vhostd
