// The /metrics HTTP endpoint: civetweb serving prometheus-cpp's text serialization of
// the registered collectables. vhostd serves it itself (rather than through
// prometheus-cpp's Exposer) to answer exactly GET /metrics, with the exposition
// format's Content-Type (version=0.0.4); every other path is 404.
#ifndef VHOSTD_SERVER_METRICS_EXPORTER_H_
#define VHOSTD_SERVER_METRICS_EXPORTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "server/dataplane_collector.h"

class CivetServer;

namespace vhostd {

class MetricsHandler;

class MetricsExporter {
 public:
  // Listens on `address` ("host:port"). Each scrape renders `dataplane` directly and
  // `collectables` (small prometheus-cpp registries) through prometheus-cpp's
  // serializer; the exporter keeps the collectables alive.
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Start(
      const std::string& address, const DataplaneCollector* dataplane,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  ~MetricsExporter();

 private:
  MetricsExporter(std::unique_ptr<MetricsHandler> handler, std::unique_ptr<CivetServer> server);
  std::unique_ptr<MetricsHandler> handler_;
  std::unique_ptr<CivetServer> server_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_METRICS_EXPORTER_H_
