// A gRPC server interceptor that counts every request by method and status code.
#ifndef VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_
#define VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_

#include "grpcpp/support/server_interceptor.h"
#include "server/daemon_metrics.h"

namespace vhostd {

class RpcMetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(DaemonMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  DaemonMetrics* const metrics_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_RPC_METRICS_INTERCEPTOR_H_
