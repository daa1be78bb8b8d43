// Daemon-level metrics kept in a prometheus-cpp registry: build information and gRPC
// requests by method and status code (control plane only, never per packet).
#ifndef VHOSTD_SERVER_DAEMON_METRICS_H_
#define VHOSTD_SERVER_DAEMON_METRICS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace vhostd {

class DaemonMetrics {
 public:
  DaemonMetrics();
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // `method` is the full gRPC method ("/vhostd.v1.Vhostd/CreatePort"); `code` the status
  // code name ("OK", "INVALID_ARGUMENT", ...).
  void RecordRpc(const std::string& method, const std::string& code);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* rpcs_;
};

// The canonical name of a gRPC status code number.
std::string GrpcCodeName(int code);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_DAEMON_METRICS_H_
