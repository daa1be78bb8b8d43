// Prometheus series for ports, queues and polling cores, rendered at scrape time from
// the same counters GetPortStats reads (one source of truth), so a deleted port's
// series simply stop appearing and nothing is done per packet.
#ifndef VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_
#define VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_

#include <string>

#include "dataplane/forwarding_engine.h"
#include "server/port_manager.h"

namespace vhostd {

class DataplaneCollector {
 public:
  DataplaneCollector(PortManager* manager, const ForwardingEngine* engine) : manager_(manager), engine_(engine) {}
  // Appends every family in the text exposition format 0.0.4.
  void AppendText(std::string* out) const;

 private:
  PortManager* const manager_;
  const ForwardingEngine* const engine_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_
