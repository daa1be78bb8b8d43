#include "server/metrics_exporter.h"

#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

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

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExporter(
    const std::string& address, const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  if (absl::Status valid = ValidateAddress(address); !valid.ok()) return valid;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics-address: cannot listen on ", address, ": ", e.what()));
  }
  for (const auto& collectable : collectables) exposer->RegisterCollectable(collectable);
  return exposer;
}

}  // namespace vhostd
