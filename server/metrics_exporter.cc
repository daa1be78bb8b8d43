#include "server/metrics_exporter.h"

#include <cstring>
#include <exception>

#include "CivetServer.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace vhostd {
namespace {

constexpr char kPath[] = "/metrics";
constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// civetweb gives each connection a worker thread until it is done. A connection that
// sends no request holds its worker for the request timeout (civetweb's default: 30 s,
// so two idle connections stopped a two-worker endpoint for that long). A scraper sends
// its request at once, so idle ones are dropped after 1 s, and 8 workers serve scrapers
// (Prometheus servers in HA pairs, a dashboard, curl) side by side meanwhile.
constexpr char kWorkers[] = "8";
constexpr char kRequestTimeoutMs[] = "1000";

// "host:port" with a numeric port 1..65535; civetweb would otherwise take e.g. "9477"
// alone as "all interfaces", which an operator did not ask for.
absl::Status ValidateAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-address: \"", address, "\" is not host:port (e.g. 127.0.0.1:9477)"));
  }
  return absl::OkStatus();
}

}  // namespace

class MetricsHandler : public CivetHandler {
 public:
  MetricsHandler(const DataplaneCollector* dataplane, std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
      : dataplane_(dataplane), collectables_(std::move(collectables)) {}

  // Runs on a civetweb worker thread; collectables are thread-safe.
  bool handleGet(CivetServer*, mg_connection* conn) override {
    // civetweb routes every path that starts with /metrics here.
    if (std::strcmp(mg_get_request_info(conn)->local_uri, kPath) != 0) {
      mg_send_http_error(conn, 404, "%s", "Not Found");
      return true;
    }
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : collectables_) {
      std::vector<prometheus::MetricFamily> more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    std::string body;
    dataplane_->AppendText(&body);
    body += prometheus::TextSerializer().Serialize(families);
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
              kContentType, body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  const DataplaneCollector* const dataplane_;
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

MetricsExporter::MetricsExporter(std::unique_ptr<MetricsHandler> handler, std::unique_ptr<CivetServer> server)
    : handler_(std::move(handler)), server_(std::move(server)) {}

MetricsExporter::~MetricsExporter() {
  server_->close();  // stops the workers before the handler goes
}

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    const std::string& address, const DataplaneCollector* dataplane,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  if (absl::Status valid = ValidateAddress(address); !valid.ok()) return valid;
  auto handler = std::make_unique<MetricsHandler>(dataplane, std::move(collectables));
  std::unique_ptr<CivetServer> server;
  try {
    server = std::make_unique<CivetServer>(std::vector<std::string>{"listening_ports", address, "num_threads", kWorkers,
                                                                    "request_timeout_ms", kRequestTimeoutMs,
                                                                    "enable_keep_alive", "no"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics-address: cannot listen on ", address, ": ", e.what()));
  }
  server->addHandler(kPath, handler.get());
  return std::unique_ptr<MetricsExporter>(new MetricsExporter(std::move(handler), std::move(server)));
}

}  // namespace vhostd
