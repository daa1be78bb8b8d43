#include "server/daemon_metrics.h"

#include <rte_config.h>
#include <rte_version.h>

#include "grpcpp/grpcpp.h"
#include "prometheus/gauge.h"
#include "server/version.h"

namespace vhostd {

DaemonMetrics::DaemonMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("vhostd_build_info")
      .Help("Always 1; labels carry the vhostd, DPDK and gRPC versions.")
      .Register(*registry_)
      .Add({{"version", kVhostdVersion}, {"dpdk", rte_version()}, {"grpc", grpc::Version()}})
      .Set(1);
  rpcs_ = &prometheus::BuildCounter()
               .Name("vhostd_grpc_requests_total")
               .Help("gRPC requests handled, by method and status code.")
               .Register(*registry_);
}

void DaemonMetrics::RecordRpc(const std::string& method, const std::string& code) {
  rpcs_->Add({{"method", method}, {"code", code}}).Increment();
}

std::string GrpcCodeName(int code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",       "DATA_LOSS",        "UNAUTHENTICATED"};
  return code >= 0 && code < 17 ? kNames[code] : "UNKNOWN";
}

}  // namespace vhostd
