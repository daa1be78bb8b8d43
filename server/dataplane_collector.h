// Prometheus collector for ports, queues and polling cores. It builds every series at
// scrape time from the same counters GetPortStats reads (one source of truth), so a
// deleted port's series simply stop appearing, and nothing is done per packet.
#ifndef VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_
#define VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_

#include <vector>

#include "dataplane/forwarding_engine.h"
#include "prometheus/collectable.h"
#include "server/port_manager.h"

namespace vhostd {

class DataplaneCollector : public prometheus::Collectable {
 public:
  DataplaneCollector(PortManager* manager, const ForwardingEngine* engine) : manager_(manager), engine_(engine) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  PortManager* const manager_;
  const ForwardingEngine* const engine_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_DATAPLANE_COLLECTOR_H_
