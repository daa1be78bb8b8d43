#include "server/status_events.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vhostd {
namespace {

using vhostd::v1::Event;
using vhostd::v1::PortStatus;

// "connected 1", "features 0x...", "queue 0 rx tx", "state WAITING_FOR_PEER->UP".
std::vector<std::string> Names(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (e.has_frontend_connected()) out.push_back("connected " + std::to_string(e.frontend_connected().frontend_connects()));
    if (e.has_frontend_disconnected()) {
      out.push_back("disconnected " + std::to_string(e.frontend_disconnected().frontend_disconnects()));
    }
    if (e.has_features_negotiated()) out.push_back("features " + std::to_string(e.features_negotiated().negotiated_features()));
    if (e.has_queue_state_changed()) {
      const auto& q = e.queue_state_changed();
      out.push_back("queue " + std::to_string(q.queue()) + (q.rx_enabled() ? " rx" : " -") + (q.tx_enabled() ? " tx" : " -"));
    }
    if (e.has_port_state_changed()) {
      out.push_back("state " + PortStatus::State_Name(e.port_state_changed().old_state()) + "->" +
                    PortStatus::State_Name(e.port_state_changed().new_state()));
    }
  }
  return out;
}

PortStatus Waiting() {
  PortStatus status;
  status.set_state(PortStatus::WAITING_FOR_PEER);
  return status;
}

PortStatus Attached(uint64_t connects, uint64_t disconnects) {
  PortStatus status;
  status.set_state(PortStatus::UP);
  status.set_negotiated_features(0x150008000);
  status.set_frontend_connects(connects);
  status.set_frontend_disconnects(disconnects);
  for (uint32_t q = 0; q < 2; ++q) {
    auto* queue = status.add_queues();
    queue->set_queue(q);
    queue->set_rx_enabled(q == 0);
    queue->set_tx_enabled(true);
  }
  return status;
}

TEST(StatusEventsTest, NothingChanged) {
  EXPECT_TRUE(StatusEvents("p", Waiting(), Waiting()).empty());
  EXPECT_TRUE(StatusEvents("p", Attached(1, 0), Attached(1, 0)).empty());
}

TEST(StatusEventsTest, AFrontendAttaches) {
  std::vector<Event> events = StatusEvents("vm1", Waiting(), Attached(1, 0));
  EXPECT_EQ(Names(events), (std::vector<std::string>{"connected 1", "features 5637177344", "queue 0 rx tx",
                                                     "queue 1 - tx", "state WAITING_FOR_PEER->UP"}));
  for (const Event& e : events) {
    const std::string port = e.has_frontend_connected()    ? e.frontend_connected().port()
                             : e.has_features_negotiated() ? e.features_negotiated().port()
                             : e.has_queue_state_changed() ? e.queue_state_changed().port()
                                                           : e.port_state_changed().port();
    EXPECT_EQ(port, "vm1");
  }
}

TEST(StatusEventsTest, AFrontendGoesAway) {
  PortStatus gone = Waiting();
  gone.set_frontend_connects(1);
  gone.set_frontend_disconnects(1);
  EXPECT_EQ(Names(StatusEvents("p", Attached(1, 0), gone)),
            (std::vector<std::string>{"disconnected 1", "features 0", "queue 0 - -", "queue 1 - -",
                                      "state UP->WAITING_FOR_PEER"}));
}

TEST(StatusEventsTest, AReconnectBetweenTwoLooksIsBothEventsInOrder) {
  EXPECT_EQ(Names(StatusEvents("p", Attached(1, 0), Attached(2, 1))),
            (std::vector<std::string>{"disconnected 1", "connected 2"}));
  // Detached before: the connect came first.
  PortStatus detached = Waiting();
  detached.set_frontend_connects(1);
  detached.set_frontend_disconnects(1);
  PortStatus after = detached;
  after.set_frontend_connects(2);
  after.set_frontend_disconnects(2);
  EXPECT_EQ(Names(StatusEvents("p", detached, after)), (std::vector<std::string>{"connected 2", "disconnected 2"}));
}

TEST(StatusEventsTest, AConnectStormIsBounded) {
  PortStatus after = Waiting();
  after.set_frontend_connects(1000);
  after.set_frontend_disconnects(1000);
  std::vector<std::string> names = Names(StatusEvents("p", Waiting(), after));
  EXPECT_EQ(names.size(), 2 * kMaxConnectEventsPerLook);
  EXPECT_EQ(names.back(), "disconnected 1000");
}

TEST(StatusEventsTest, ErrorCarriesItsReason) {
  PortStatus error;
  error.set_state(PortStatus::ERROR);
  error.set_message("vdpa0: no such device");
  std::vector<Event> events = StatusEvents("acc0", Waiting(), error);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].port_state_changed().new_state(), PortStatus::ERROR);
  EXPECT_EQ(events[0].port_state_changed().message(), "vdpa0: no such device");
}

TEST(StatusEventsTest, QueueFlagsAndQueuesThatGo) {
  PortStatus before = Attached(1, 0);
  PortStatus after = Attached(1, 0);
  after.mutable_queues(0)->set_rx_enabled(false);
  after.mutable_queues()->RemoveLast();  // queue 1 gone
  EXPECT_EQ(Names(StatusEvents("p", before, after)), (std::vector<std::string>{"queue 0 - tx", "queue 1 - -"}));
}

}  // namespace
}  // namespace vhostd
