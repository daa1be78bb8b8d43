#include "client/cni/cni_daemon.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "client/cni/cni_error.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace vhostd_cni {
namespace {

using vhostd::v1::CrossConnect;
using vhostd::v1::Port;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

Daemon::Daemon(const std::string& target, int timeout_ms)
    : Daemon(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()), timeout_ms) {
  target_ = target;
}

Daemon::Daemon(std::shared_ptr<grpc::Channel> channel, int timeout_ms)
    : target_("in-process"), timeout_ms_(timeout_ms), stub_(vhostd::v1::Vhostd::NewStub(channel)) {}

void Daemon::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
  context->set_wait_for_ready(false);
}

absl::StatusOr<vhostd::v1::ListPluginsResponse> Daemon::ListPlugins() {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::ListPluginsResponse response;
  if (absl::Status s = FromGrpc(stub_->ListPlugins(&context, {}, &response)); !s.ok()) return s;
  return response;
}

absl::StatusOr<Port> Daemon::CreatePort(const Port& port) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::CreatePortRequest request;
  *request.mutable_port() = port;
  Port created;
  if (absl::Status s = FromGrpc(stub_->CreatePort(&context, request, &created)); !s.ok()) return s;
  return created;
}

absl::StatusOr<Port> Daemon::GetPort(const std::string& name) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::GetPortRequest request;
  request.set_name(name);
  Port port;
  if (absl::Status s = FromGrpc(stub_->GetPort(&context, request, &port)); !s.ok()) return s;
  return port;
}

absl::Status Daemon::DeletePort(const std::string& name) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::DeletePortRequest request;
  request.set_name(name);
  request.set_allow_missing(true);
  google::protobuf::Empty empty;
  return FromGrpc(stub_->DeletePort(&context, request, &empty));
}

absl::StatusOr<std::vector<Port>> Daemon::ListPorts(const std::string& label_selector) {
  std::vector<Port> ports;
  vhostd::v1::ListPortsRequest request;
  request.set_page_size(1000);
  request.set_label_selector(label_selector);
  do {
    grpc::ClientContext context;
    Prepare(&context);
    vhostd::v1::ListPortsResponse response;
    if (absl::Status s = FromGrpc(stub_->ListPorts(&context, request, &response)); !s.ok()) return s;
    ports.insert(ports.end(), response.ports().begin(), response.ports().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return ports;
}

absl::StatusOr<std::vector<CrossConnect>> Daemon::ListCrossConnects() {
  std::vector<CrossConnect> xconnects;
  vhostd::v1::ListCrossConnectsRequest request;
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    Prepare(&context);
    vhostd::v1::ListCrossConnectsResponse response;
    if (absl::Status s = FromGrpc(stub_->ListCrossConnects(&context, request, &response)); !s.ok()) return s;
    xconnects.insert(xconnects.end(), response.cross_connects().begin(), response.cross_connects().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return xconnects;
}

absl::StatusOr<CrossConnect> Daemon::CreateCrossConnect(const CrossConnect& xconnect) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::CreateCrossConnectRequest request;
  *request.mutable_cross_connect() = xconnect;
  CrossConnect created;
  if (absl::Status s = FromGrpc(stub_->CreateCrossConnect(&context, request, &created)); !s.ok()) return s;
  return created;
}

absl::Status Daemon::DeleteCrossConnect(const std::string& name) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::DeleteCrossConnectRequest request;
  request.set_name(name);
  request.set_allow_missing(true);
  google::protobuf::Empty empty;
  return FromGrpc(stub_->DeleteCrossConnect(&context, request, &empty));
}

absl::StatusOr<vhostd::v1::Bridge> Daemon::GetBridge(const std::string& name) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::GetBridgeRequest request;
  request.set_name(name);
  vhostd::v1::Bridge bridge;
  if (absl::Status s = FromGrpc(stub_->GetBridge(&context, request, &bridge)); !s.ok()) return s;
  return bridge;
}

absl::StatusOr<vhostd::v1::Bridge> Daemon::CreateBridge(const vhostd::v1::Bridge& bridge) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::CreateBridgeRequest request;
  *request.mutable_bridge() = bridge;
  vhostd::v1::Bridge created;
  if (absl::Status s = FromGrpc(stub_->CreateBridge(&context, request, &created)); !s.ok()) return s;
  return created;
}

absl::StatusOr<std::vector<vhostd::v1::Bridge>> Daemon::ListBridges() {
  std::vector<vhostd::v1::Bridge> bridges;
  vhostd::v1::ListBridgesRequest request;
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    Prepare(&context);
    vhostd::v1::ListBridgesResponse response;
    if (absl::Status s = FromGrpc(stub_->ListBridges(&context, request, &response)); !s.ok()) return s;
    bridges.insert(bridges.end(), response.bridges().begin(), response.bridges().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return bridges;
}

absl::Status Daemon::AddBridgePort(const std::string& bridge, const vhostd::v1::BridgePort& port) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::AddBridgePortRequest request;
  request.set_bridge(bridge);
  *request.mutable_port() = port;
  vhostd::v1::BridgePort added;
  return FromGrpc(stub_->AddBridgePort(&context, request, &added));
}

absl::Status Daemon::DeleteBridgePort(const std::string& bridge, const std::string& port) {
  grpc::ClientContext context;
  Prepare(&context);
  vhostd::v1::DeleteBridgePortRequest request;
  request.set_bridge(bridge);
  request.set_port(port);
  google::protobuf::Empty empty;
  return FromGrpc(stub_->DeleteBridgePort(&context, request, &empty));
}

bool Unreachable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::Status ToCniError(const absl::Status& status, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", absl::StatusCodeToString(status.code()), ": ", status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return CniError(kTryAgainLater, message, "vhostd is not reachable or did not answer in time; retry later");
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnimplemented:
      return CniError(kInvalidConfig, message);
    case absl::StatusCode::kResourceExhausted:
      return CniError(kResourceExhausted, message);
    default:
      return CniError(kDaemonRefused, message);
  }
}

}  // namespace vhostd_cni
