#include "server/status_events.h"

#include <algorithm>
#include <map>

namespace vhostd {
namespace {

using vhostd::v1::Event;
using vhostd::v1::PortStatus;
using vhostd::v1::QueueStatus;

uint64_t LastOnes(uint64_t count) {
  return count > kMaxConnectEventsPerLook ? count - kMaxConnectEventsPerLook : 0;
}

void AddConnects(const std::string& port, const PortStatus& before, const PortStatus& after,
                 std::vector<Event>* events) {
  uint64_t connects = before.frontend_connects();
  uint64_t disconnects = before.frontend_disconnects();
  // Beyond the bound only the last ones: their counts still say how many there were.
  connects = std::max(connects, LastOnes(after.frontend_connects()));
  disconnects = std::max(disconnects, LastOnes(after.frontend_disconnects()));
  while (connects < after.frontend_connects() || disconnects < after.frontend_disconnects()) {
    // A disconnect comes first while a frontend is attached (more connects than
    // disconnects so far), or when no connect is left.
    const bool attached = connects > disconnects;
    if (disconnects < after.frontend_disconnects() && (attached || connects == after.frontend_connects())) {
      Event event;
      event.mutable_frontend_disconnected()->set_port(port);
      event.mutable_frontend_disconnected()->set_frontend_disconnects(++disconnects);
      events->push_back(std::move(event));
    } else {
      Event event;
      event.mutable_frontend_connected()->set_port(port);
      event.mutable_frontend_connected()->set_frontend_connects(++connects);
      events->push_back(std::move(event));
    }
  }
}

std::map<uint32_t, const QueueStatus*> ByIndex(const PortStatus& status) {
  std::map<uint32_t, const QueueStatus*> queues;
  for (const QueueStatus& queue : status.queues()) queues[queue.queue()] = &queue;
  return queues;
}

void AddQueues(const std::string& port, const PortStatus& before, const PortStatus& after,
               std::vector<Event>* events) {
  const std::map<uint32_t, const QueueStatus*> old_queues = ByIndex(before), new_queues = ByIndex(after);
  std::map<uint32_t, std::pair<bool, bool>> changed;  // queue -> (rx, tx) now
  for (const auto& [index, queue] : new_queues) {
    auto old = old_queues.find(index);
    const bool was_rx = old != old_queues.end() && old->second->rx_enabled();
    const bool was_tx = old != old_queues.end() && old->second->tx_enabled();
    if (was_rx != queue->rx_enabled() || was_tx != queue->tx_enabled()) {
      changed[index] = {queue->rx_enabled(), queue->tx_enabled()};
    }
  }
  for (const auto& [index, queue] : old_queues) {  // gone from the status: disabled
    if (!new_queues.count(index) && (queue->rx_enabled() || queue->tx_enabled())) changed[index] = {false, false};
  }
  for (const auto& [index, flags] : changed) {
    Event event;
    vhostd::v1::QueueStateChanged* queue = event.mutable_queue_state_changed();
    queue->set_port(port);
    queue->set_queue(index);
    queue->set_rx_enabled(flags.first);
    queue->set_tx_enabled(flags.second);
    events->push_back(std::move(event));
  }
}

}  // namespace

std::vector<Event> StatusEvents(const std::string& port, const PortStatus& before, const PortStatus& after) {
  std::vector<Event> events;
  AddConnects(port, before, after, &events);
  if (before.negotiated_features() != after.negotiated_features()) {
    Event event;
    vhostd::v1::FeaturesNegotiated* features = event.mutable_features_negotiated();
    features->set_port(port);
    features->set_negotiated_features(after.negotiated_features());
    *features->mutable_negotiated_feature_names() = after.negotiated_feature_names();
    events.push_back(std::move(event));
  }
  AddQueues(port, before, after, &events);
  if (before.state() != after.state()) {
    Event event;
    vhostd::v1::PortStateChanged* state = event.mutable_port_state_changed();
    state->set_port(port);
    state->set_old_state(before.state());
    state->set_new_state(after.state());
    state->set_message(after.message());
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace vhostd
