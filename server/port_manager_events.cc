// What PortManager publishes on the event stream (server/event_log.h): API changes are
// published where they are made (port_manager.cc, port_manager_bridges.cc); what ports
// report by themselves (frontends, queues, features, state) is found here, by the
// reconciler, as the difference between two looks at each port's status
// (server/status_events.h). So nothing is published on lib/vhost's event thread or a
// polling core, and a publish never waits for a watcher.
#include "server/port_manager.h"
#include "server/status_events.h"

namespace vhostd {

void PortManager::SetEventLog(EventLog* events) {
  absl::MutexLock lock(&mu_);
  events_ = events;
}

void PortManager::Publish(vhostd::v1::Event event) {
  if (events_ != nullptr) events_->Publish(std::move(event));
}

void PortManager::PublishBridgeChange(const std::string& bridge, vhostd::v1::BridgeChanged::Change change,
                                      const std::string& port) {
  vhostd::v1::Event event;
  vhostd::v1::BridgeChanged* changed = event.mutable_bridge_changed();
  changed->set_bridge(bridge);
  changed->set_change(change);
  changed->set_port(port);
  Publish(std::move(event));
}

void PortManager::PublishStatusChanges() {
  if (events_ == nullptr) return;
  const QueueCores cores = RxQueueCores();
  for (auto& [name, entry] : ports_) {
    vhostd::v1::PortStatus now = Describe(entry, cores).status();
    for (vhostd::v1::Event& event : StatusEvents(name, entry.reported, now)) Publish(std::move(event));
    entry.reported = std::move(now);
  }
}

}  // namespace vhostd
