#include "client/event_output.h"

#include "gtest/gtest.h"
#include "vhostd/v1/event.pb.h"

namespace vhostctl {
namespace {

using vhostd::v1::Event;

// 2026-12-03T14:40:01.250Z
Event At(uint64_t sequence) {
  Event event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1796308801);
  event.mutable_time()->set_nanos(250000000);
  event.set_instance_id("0123456789abcdef0123456789abcdef");
  return event;
}

TEST(EventOutputTest, PortLifecycle) {
  Event created = At(1);
  created.mutable_port_created()->mutable_port()->set_name("vm1");
  created.mutable_port_created()->mutable_port()->set_type("vhost-user");
  EXPECT_EQ(FormatEventLine(created), "1 2026-12-03T14:40:01.250Z port-created vm1 type=vhost-user");

  Event deleted = At(9);
  deleted.mutable_port_deleted()->set_port("vm1");
  EXPECT_EQ(FormatEventLine(deleted), "9 2026-12-03T14:40:01.250Z port-deleted vm1");
}

TEST(EventOutputTest, StateWithAndWithoutMessage) {
  Event up = At(2);
  up.mutable_port_state_changed()->set_port("vm1");
  up.mutable_port_state_changed()->set_old_state(vhostd::v1::PortStatus::WAITING_FOR_PEER);
  up.mutable_port_state_changed()->set_new_state(vhostd::v1::PortStatus::UP);
  EXPECT_EQ(FormatEventLine(up), "2 2026-12-03T14:40:01.250Z port-state vm1 WAITING_FOR_PEER->UP");

  Event stalled = up;
  stalled.mutable_port_state_changed()->set_old_state(vhostd::v1::PortStatus::UP);
  stalled.mutable_port_state_changed()->set_new_state(vhostd::v1::PortStatus::STALLED);
  stalled.mutable_port_state_changed()->set_message("tx ring full");
  EXPECT_EQ(FormatEventLine(stalled),
            "2 2026-12-03T14:40:01.250Z port-state vm1 UP->STALLED message=\"tx ring full\"");
}

TEST(EventOutputTest, FrontendQueuesAndFeatures) {
  Event connected = At(3);
  connected.mutable_frontend_connected()->set_port("vm1");
  connected.mutable_frontend_connected()->set_frontend_connects(2);
  EXPECT_EQ(FormatEventLine(connected), "3 2026-12-03T14:40:01.250Z frontend-connected vm1 connects=2");

  Event disconnected = At(4);
  disconnected.mutable_frontend_disconnected()->set_port("vm1");
  disconnected.mutable_frontend_disconnected()->set_frontend_disconnects(1);
  EXPECT_EQ(FormatEventLine(disconnected), "4 2026-12-03T14:40:01.250Z frontend-disconnected vm1 disconnects=1");

  Event queue = At(5);
  queue.mutable_queue_state_changed()->set_port("vm1");
  queue.mutable_queue_state_changed()->set_queue(1);
  queue.mutable_queue_state_changed()->set_rx_enabled(true);
  EXPECT_EQ(FormatEventLine(queue), "5 2026-12-03T14:40:01.250Z queue vm1 queue=1 rx=enabled tx=disabled");

  Event features = At(6);
  features.mutable_features_negotiated()->set_port("vm1");
  features.mutable_features_negotiated()->set_negotiated_features(0x100008000ull);
  features.mutable_features_negotiated()->add_negotiated_feature_names("VIRTIO_NET_F_MRG_RXBUF");
  features.mutable_features_negotiated()->add_negotiated_feature_names("VIRTIO_F_VERSION_1");
  EXPECT_EQ(FormatEventLine(features),
            "6 2026-12-03T14:40:01.250Z features vm1 0x100008000 VIRTIO_NET_F_MRG_RXBUF,VIRTIO_F_VERSION_1");
}

TEST(EventOutputTest, CrossConnectsAndBridges) {
  Event xc = At(7);
  vhostd::v1::CrossConnect* cross = xc.mutable_cross_connect_created()->mutable_cross_connect();
  cross->set_name("x1");
  cross->set_port_a("a");
  cross->set_port_b("b");
  EXPECT_EQ(FormatEventLine(xc), "7 2026-12-03T14:40:01.250Z xconnect-created x1 a<->b");

  Event added = At(8);
  added.mutable_bridge_changed()->set_bridge("br0");
  added.mutable_bridge_changed()->set_change(vhostd::v1::BridgeChanged::PORT_ADDED);
  added.mutable_bridge_changed()->set_port("vm1");
  EXPECT_EQ(FormatEventLine(added), "8 2026-12-03T14:40:01.250Z bridge-port-added br0 port=vm1");
}

TEST(EventOutputTest, MissedMarkerHasNoSequence) {
  Event missed = At(0);
  missed.mutable_events_missed()->set_reason(vhostd::v1::EventsMissed::SLOW_WATCHER);
  missed.mutable_events_missed()->set_first_missed(8);
  missed.mutable_events_missed()->set_last_missed(2055);
  EXPECT_EQ(FormatEventLine(missed), "- 2026-12-03T14:40:01.250Z missed SLOW_WATCHER 8..2055");

  missed.mutable_events_missed()->set_reason(vhostd::v1::EventsMissed::DAEMON_RESTARTED);
  missed.mutable_events_missed()->set_first_missed(0);
  missed.mutable_events_missed()->set_last_missed(0);
  EXPECT_EQ(FormatEventLine(missed), "- 2026-12-03T14:40:01.250Z missed DAEMON_RESTARTED ?..?");
}

TEST(EventOutputTest, UnknownKindIsSaidSo) {
  EXPECT_EQ(FormatEventLine(At(10)),
            "10 2026-12-03T14:40:01.250Z unknown (a newer daemon's event; -o json shows it)");
}

}  // namespace
}  // namespace vhostctl
