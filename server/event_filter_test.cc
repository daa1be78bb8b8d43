#include "server/event_filter.h"

#include <cstdint>
#include <utility>

#include "gtest/gtest.h"

namespace vhostd {
namespace {

using vhostd::v1::Event;
using vhostd::v1::WatchEventsRequest;

TEST(ValidateWatchRequest, AcceptsTheFieldsAsAClientSendsThem) {
  WatchEventsRequest request;
  EXPECT_TRUE(ValidateWatchRequest(request).ok());
  request.set_port("vm1");
  request.set_after_sequence(17);
  request.set_instance_id("0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(ValidateWatchRequest(request).ok());
}

TEST(ValidateWatchRequest, StatsIntervalOnlyWithFollowAndWithinBounds) {
  WatchEventsRequest request;
  request.mutable_stats_interval()->set_seconds(1);
  absl::Status status = ValidateWatchRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "stats_interval: only with follow");
  request.set_follow(true);
  EXPECT_TRUE(ValidateWatchRequest(request).ok());
  EXPECT_EQ(StatsInterval(request), absl::Seconds(1));
  for (auto [seconds, nanos] : {std::pair<int64_t, int32_t>{0, 99999999}, {3600, 1}, {0, 0}, {-1, 0},
                                {1, -5}, {0, 1000000000}, {INT64_MAX, 0}}) {
    request.mutable_stats_interval()->set_seconds(seconds);
    request.mutable_stats_interval()->set_nanos(nanos);
    status = ValidateWatchRequest(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << seconds << "s " << nanos;
    EXPECT_EQ(status.message(), "stats_interval: must be from 100ms to 1h") << seconds << "s " << nanos;
  }
  request.mutable_stats_interval()->set_seconds(0);
  request.mutable_stats_interval()->set_nanos(100000000);
  EXPECT_TRUE(ValidateWatchRequest(request).ok());
  request.clear_stats_interval();
  EXPECT_EQ(StatsInterval(request), absl::ZeroDuration());
}

TEST(ValidateWatchRequest, NamesTheBadField) {
  WatchEventsRequest request;
  request.set_port("Not_A_Name");
  absl::Status status = ValidateWatchRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 5), "port:");

  request.clear_port();
  request.set_instance_id("0123456789abcdef0123456789abcdef");
  status = ValidateWatchRequest(request);  // without after_sequence
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 12), "instance_id:");

  request.set_after_sequence(1);
  for (const char* id : {"0123456789ABCDEF0123456789ABCDEF", "0123", "0123456789abcdef0123456789abcdeg"}) {
    request.set_instance_id(id);
    status = ValidateWatchRequest(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_EQ(status.message().substr(0, 12), "instance_id:") << id;
  }
}

TEST(EventConcernsPort, KeepsTheEventsAboutThePortAndEveryMarker) {
  Event created;
  created.mutable_port_created()->mutable_port()->set_name("vm1");
  Event other;
  other.mutable_port_deleted()->set_port("vm2");
  Event xconnect;
  xconnect.mutable_cross_connect_created()->mutable_cross_connect()->set_port_a("vm2");
  xconnect.mutable_cross_connect_created()->mutable_cross_connect()->set_port_b("vm1");
  Event bridge_created;
  bridge_created.mutable_bridge_changed()->set_bridge("br0");
  bridge_created.mutable_bridge_changed()->set_change(vhostd::v1::BridgeChanged::CREATED);
  Event joined = bridge_created;
  joined.mutable_bridge_changed()->set_change(vhostd::v1::BridgeChanged::PORT_ADDED);
  joined.mutable_bridge_changed()->set_port("vm1");
  Event queue;
  queue.mutable_queue_state_changed()->set_port("vm1");
  Event missed;
  missed.mutable_events_missed()->set_reason(vhostd::v1::EventsMissed::SLOW_WATCHER);

  EXPECT_TRUE(EventConcernsPort(created, "vm1"));
  EXPECT_FALSE(EventConcernsPort(other, "vm1"));
  EXPECT_TRUE(EventConcernsPort(xconnect, "vm1"));
  EXPECT_TRUE(EventConcernsPort(xconnect, "vm2"));
  EXPECT_FALSE(EventConcernsPort(bridge_created, "vm1"));
  EXPECT_TRUE(EventConcernsPort(joined, "vm1"));
  EXPECT_TRUE(EventConcernsPort(queue, "vm1"));
  EXPECT_FALSE(EventConcernsPort(queue, "vm10"));
  EXPECT_TRUE(EventConcernsPort(missed, "vm1"));
  EXPECT_FALSE(EventConcernsPort(Event(), "vm1"));
}

}  // namespace
}  // namespace vhostd
