#include "server/rpc_metrics_interceptor.h"

#include <string>

#include "google/protobuf/descriptor.h"
#include "vhostd/v1/vhostd.grpc.pb.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostd {
namespace {

// What a client names as the method is client input: counting it as given would let any
// client mint one series per bogus name. Methods nobody serves share one label value.
constexpr char kUnknownMethod[] = "unknown";

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(DaemonMetrics* metrics, std::string method) : metrics_(metrics), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordRpc(method_, GrpcCodeName(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  DaemonMetrics* const metrics_;
  const std::string method_;
};

}  // namespace

absl::flat_hash_set<std::string> ServedMethods() {
  absl::flat_hash_set<std::string> methods = {
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  };
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(vhostd::v1::Vhostd::service_full_name());
  for (int i = 0; i < service->method_count(); ++i) {
    methods.insert("/" + service->full_name() + "/" + service->method(i)->name());
  }
  return methods;
}

RpcMetricsInterceptorFactory::RpcMetricsInterceptorFactory(DaemonMetrics* metrics)
    : metrics_(metrics), served_(ServedMethods()) {}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const char* method = info->method() != nullptr ? info->method() : "";
  return new RpcMetricsInterceptor(metrics_, served_.contains(method) ? method : kUnknownMethod);
}

}  // namespace vhostd
