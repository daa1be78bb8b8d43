#include "client/event_output.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "vhostd/v1/port.pb.h"

namespace vhostctl {
namespace {

using vhostd::v1::Event;

std::string StateName(vhostd::v1::PortStatus::State state) {
  return vhostd::v1::PortStatus::State_Name(state);
}

std::string EnabledWord(bool enabled) { return enabled ? "enabled" : "disabled"; }

// 1..5 (known range) or "?" for an unknown end.
std::string MissedRange(const vhostd::v1::EventsMissed& missed) {
  auto bound = [](uint64_t sequence) { return sequence == 0 ? std::string("?") : absl::StrCat(sequence); };
  return absl::StrCat(bound(missed.first_missed()), "..", bound(missed.last_missed()));
}

std::string CrossConnectText(const vhostd::v1::CrossConnect& xc) {
  return absl::StrCat(xc.name(), " ", xc.port_a(), "<->", xc.port_b());
}

std::string BridgeChangeText(const vhostd::v1::BridgeChanged& changed) {
  switch (changed.change()) {
    case vhostd::v1::BridgeChanged::CREATED:
      return absl::StrCat("bridge-created ", changed.bridge());
    case vhostd::v1::BridgeChanged::DELETED:
      return absl::StrCat("bridge-deleted ", changed.bridge());
    case vhostd::v1::BridgeChanged::PORT_ADDED:
      return absl::StrCat("bridge-port-added ", changed.bridge(), " port=", changed.port());
    case vhostd::v1::BridgeChanged::PORT_REMOVED:
      return absl::StrCat("bridge-port-removed ", changed.bridge(), " port=", changed.port());
    default:
      return absl::StrCat("bridge-changed ", changed.bridge(), " change=", changed.change());
  }
}

// "KIND SUBJECT DETAILS" of one event.
std::string EventText(const Event& event) {
  switch (event.kind_case()) {
    case Event::kPortCreated:
      return absl::StrCat("port-created ", event.port_created().port().name(),
                          " type=", event.port_created().port().type());
    case Event::kPortDeleted:
      return absl::StrCat("port-deleted ", event.port_deleted().port());
    case Event::kPortStateChanged: {
      const vhostd::v1::PortStateChanged& changed = event.port_state_changed();
      std::string text = absl::StrCat("port-state ", changed.port(), " ", StateName(changed.old_state()),
                                      "->", StateName(changed.new_state()));
      if (!changed.message().empty()) absl::StrAppend(&text, " message=\"", changed.message(), "\"");
      return text;
    }
    case Event::kFrontendConnected:
      return absl::StrCat("frontend-connected ", event.frontend_connected().port(),
                          " connects=", event.frontend_connected().frontend_connects());
    case Event::kFrontendDisconnected:
      return absl::StrCat("frontend-disconnected ", event.frontend_disconnected().port(),
                          " disconnects=", event.frontend_disconnected().frontend_disconnects());
    case Event::kQueueStateChanged: {
      const vhostd::v1::QueueStateChanged& queue = event.queue_state_changed();
      return absl::StrCat("queue ", queue.port(), " queue=", queue.queue(), " rx=", EnabledWord(queue.rx_enabled()),
                          " tx=", EnabledWord(queue.tx_enabled()));
    }
    case Event::kFeaturesNegotiated: {
      const vhostd::v1::FeaturesNegotiated& features = event.features_negotiated();
      std::string text = absl::StrCat("features ", features.port(),
                                      absl::StrFormat(" 0x%x", features.negotiated_features()));
      if (features.negotiated_feature_names_size() > 0) {
        absl::StrAppend(&text, " ", absl::StrJoin(features.negotiated_feature_names(), ","));
      }
      return text;
    }
    case Event::kCrossConnectCreated:
      return absl::StrCat("xconnect-created ", CrossConnectText(event.cross_connect_created().cross_connect()));
    case Event::kCrossConnectDeleted:
      return absl::StrCat("xconnect-deleted ", CrossConnectText(event.cross_connect_deleted().cross_connect()));
    case Event::kBridgeChanged:
      return BridgeChangeText(event.bridge_changed());
    case Event::kEventsMissed:
      return absl::StrCat("missed ", vhostd::v1::EventsMissed::Reason_Name(event.events_missed().reason()), " ",
                          MissedRange(event.events_missed()));
    case Event::KIND_NOT_SET:
      break;
  }
  return "unknown (a newer daemon's event; -o json shows it)";
}

std::string TimeText(const google::protobuf::Timestamp& time) {
  const absl::Time when = absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", when, absl::UTCTimeZone());
}

}  // namespace

std::string FormatEventLine(const Event& event) {
  const std::string sequence = event.has_events_missed() ? "-" : absl::StrCat(event.sequence());
  return absl::StrCat(sequence, " ", TimeText(event.time()), " ", EventText(event));
}

}  // namespace vhostctl
