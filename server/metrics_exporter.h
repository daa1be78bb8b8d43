// The /metrics HTTP endpoint (prometheus-cpp's civetweb-based Exposer).
#ifndef VHOSTD_SERVER_METRICS_EXPORTER_H_
#define VHOSTD_SERVER_METRICS_EXPORTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace vhostd {

// Serves GET /metrics on `address` ("host:port"; IPv6 as "[::1]:port") with the given
// collectables, in the text exposition format 0.0.4; other paths get 404. The exposer
// holds weak references: the caller keeps the collectables alive.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExporter(
    const std::string& address, const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_METRICS_EXPORTER_H_
