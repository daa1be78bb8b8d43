// The standard process_* metrics (as the official Prometheus clients export them),
// read from /proc/self at scrape time.
#ifndef VHOSTD_SERVER_PROCESS_COLLECTOR_H_
#define VHOSTD_SERVER_PROCESS_COLLECTOR_H_

#include <vector>

#include "prometheus/collectable.h"

namespace vhostd {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PROCESS_COLLECTOR_H_
