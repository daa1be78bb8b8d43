// A gRPC server interceptor that counts every request by method and status code; the
// method label takes only the names this daemon serves, everything else is "unknown".
#ifndef VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_
#define VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/daemon_metrics.h"

namespace vhostd {

class RpcMetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(DaemonMetrics* metrics);
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  DaemonMetrics* const metrics_;
  const absl::flat_hash_set<std::string> served_;
};

// Full method names ("/package.Service/Method") of the services vhostd registers.
absl::flat_hash_set<std::string> ServedMethods();

}  // namespace vhostd

#endif  // VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_
