#include "client/commands.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/live_view.h"
#include "client/output_format.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostctl {

using vhostd::v1::CreateCrossConnectRequest;
using vhostd::v1::CreatePortRequest;

CreatePortRequest MakeCreatePortRequest(const Command& command) {
  const PortSpecArgs& args = command.port;
  CreatePortRequest request;
  vhostd::v1::Port* port = request.mutable_port();
  port->set_name(command.name);
  switch (args.type) {
    case PortType::kVhostUser: {
      vhostd::v1::VhostUserSpec* spec = port->mutable_vhost_user();
      spec->set_socket_path(args.socket_path);
      switch (args.mode) {
        case SocketMode::kUnspecified:
          spec->set_mode(vhostd::v1::VhostUserSpec::MODE_UNSPECIFIED);
          break;
        case SocketMode::kServer:
          spec->set_mode(vhostd::v1::VhostUserSpec::MODE_SERVER);
          break;
        case SocketMode::kClient:
          spec->set_mode(vhostd::v1::VhostUserSpec::MODE_CLIENT);
          break;
      }
      if (args.queues) spec->set_queues(*args.queues);
      spec->set_tso(args.tso);
      spec->set_iommu_support(args.iommu_support);
      spec->set_postcopy_support(args.postcopy_support);
      spec->set_linear_buffer(args.linear_buffer);
      spec->set_ext_buffer(args.ext_buffer);
      spec->set_disable_mrg_rxbuf(args.no_mrg_rxbuf);
      if (args.no_checksum) spec->set_checksum(false);
      break;
    }
    case PortType::kVhostKernel: {
      vhostd::v1::VhostKernelSpec* spec = port->mutable_vhost_kernel();
      spec->set_tap_name(args.tap_name);
      spec->set_netns(args.netns);
      if (args.queues) spec->set_queues(*args.queues);
      spec->set_mac(args.mac);
      if (args.mtu) spec->set_mtu(*args.mtu);
      spec->set_allow_plain_tap(args.allow_plain_tap);
      break;
    }
    case PortType::kVdpa: {
      vhostd::v1::VdpaSpec* spec = port->mutable_vdpa();
      spec->set_device(args.device);
      if (args.queues) spec->set_queues(*args.queues);
      break;
    }
  }
  return request;
}

CreateCrossConnectRequest MakeCreateCrossConnectRequest(const Command& command) {
  CreateCrossConnectRequest request;
  request.mutable_cross_connect()->set_name(command.name);
  request.mutable_cross_connect()->set_port_a(command.port_a);
  request.mutable_cross_connect()->set_port_b(command.port_b);
  return request;
}

namespace {

// Longest deadline we hand to gRPC; beyond it the arithmetic could overflow.
constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 365);

class Runner {
 public:
  Runner(const Command& command, const std::string& target,
         const std::shared_ptr<grpc::Channel>& channel, std::ostream& out, std::ostream& err)
      : command_(command),
        target_(target),
        channel_(channel),
        stub_(vhostd::v1::Vhostd::NewStub(channel)),
        timeout_(std::min(command.timeout, kMaxTimeout)),
        deadline_(std::chrono::system_clock::now() +
                  std::chrono::microseconds(absl::ToInt64Microseconds(timeout_))),
        out_(out),
        err_(err) {}

  int Run() {
    switch (command_.kind) {
      case CommandKind::kPortCreate:
        return PortCreate();
      case CommandKind::kPortGet:
        return PortGet();
      case CommandKind::kPortDelete:
        return PortDelete();
      case CommandKind::kPortList:
        return PortList();
      case CommandKind::kPortStats:
        return PortStats();
      case CommandKind::kXconnectCreate:
        return XconnectCreate();
      case CommandKind::kXconnectList:
        return XconnectList();
      case CommandKind::kXconnectDelete:
        return XconnectDelete();
      case CommandKind::kCoreList:
        return CoreList();
      case CommandKind::kPluginList:
        return PluginList();
      case CommandKind::kTop:  // a live view: RunCommand hands it to RunLiveView
      case CommandKind::kHelp:
        break;
    }
    err_ << "error: internal: command has no RPC\n";
    return 1;
  }

 private:
  using Rpc = std::function<grpc::Status(grpc::ClientContext*)>;

  // Calls one RPC under the command's deadline.
  grpc::Status Call(const Rpc& rpc) {
    grpc::ClientContext context;
    context.set_deadline(deadline_);
    return rpc(&context);
  }

  bool ChannelReady() { return channel_->GetState(false) == GRPC_CHANNEL_READY; }

  // Prints "error: CODE_NAME: message", explaining connection failures; returns 1.
  int Fail(const grpc::Status& status) {
    err_ << FormatRpcError(status, target_, ChannelReady(), timeout_);
    return 1;
  }

  // Prints a response: JSON, or the table-mode rendering.
  int Print(const google::protobuf::Message& response, const std::string& table) {
    out_ << (command_.output == OutputFormat::kJson ? ToJson(response) : table);
    return 0;
  }

  int PortCreate() {
    CreatePortRequest request = MakeCreatePortRequest(command_);
    vhostd::v1::Port port;
    grpc::Status status = Call(
        [&](grpc::ClientContext* context) { return stub_->CreatePort(context, request, &port); });
    if (!status.ok()) return Fail(status);
    return Print(port, absl::StrCat("port ", port.name(), " created\n", FormatPortDetails(port)));
  }

  int PortGet() {
    vhostd::v1::GetPortRequest request;
    request.set_name(command_.name);
    vhostd::v1::Port port;
    grpc::Status status = Call(
        [&](grpc::ClientContext* context) { return stub_->GetPort(context, request, &port); });
    if (!status.ok()) return Fail(status);
    return Print(port, FormatPortDetails(port));
  }

  int PortDelete() {
    vhostd::v1::DeletePortRequest request;
    request.set_name(command_.name);
    request.set_allow_missing(command_.allow_missing);
    google::protobuf::Empty response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->DeletePort(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, absl::StrCat("port ", command_.name, " deleted\n"));
  }

  // Fetches every page of a list RPC into `all`, whose next_page_token stays empty.
  // `fetch` calls the RPC for one page token; `append` moves a page's items into `all`.
  template <typename Response>
  grpc::Status FetchAllPages(
      const std::function<grpc::Status(grpc::ClientContext*, const std::string&, Response*)>&
          fetch,
      const std::function<void(Response*, Response*)>& append, Response* all) {
    std::string token;
    while (true) {
      Response page;
      grpc::Status status =
          Call([&](grpc::ClientContext* context) { return fetch(context, token, &page); });
      if (!status.ok()) return status;
      append(&page, all);
      if (page.next_page_token().empty()) return grpc::Status::OK;
      if (page.next_page_token() == token) {
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            "the daemon returned the same page token twice");
      }
      token = page.next_page_token();
    }
  }

  int PortList() {
    vhostd::v1::ListPortsResponse all;
    grpc::Status status = FetchAllPages<vhostd::v1::ListPortsResponse>(
        [&](grpc::ClientContext* context, const std::string& token,
            vhostd::v1::ListPortsResponse* page) {
          vhostd::v1::ListPortsRequest request;
          request.set_page_token(token);
          return stub_->ListPorts(context, request, page);
        },
        [](vhostd::v1::ListPortsResponse* page, vhostd::v1::ListPortsResponse* all) {
          for (vhostd::v1::Port& port : *page->mutable_ports()) {
            all->add_ports()->Swap(&port);
          }
        },
        &all);
    if (!status.ok()) return Fail(status);
    return Print(all, FormatPortTable(all));
  }

  int PortStats() {
    vhostd::v1::GetPortStatsRequest request;
    request.set_name(command_.name);
    vhostd::v1::PortStats stats;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->GetPortStats(context, request, &stats);
    });
    if (!status.ok()) return Fail(status);
    return Print(stats, FormatPortStats(stats));
  }

  int XconnectCreate() {
    CreateCrossConnectRequest request = MakeCreateCrossConnectRequest(command_);
    vhostd::v1::CrossConnect xc;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->CreateCrossConnect(context, request, &xc);
    });
    if (!status.ok()) return Fail(status);
    return Print(xc, absl::StrCat("cross-connect ", xc.name(), " created\n",
                                  FormatCrossConnectDetails(xc)));
  }

  int XconnectList() {
    vhostd::v1::ListCrossConnectsResponse all;
    grpc::Status status = FetchAllPages<vhostd::v1::ListCrossConnectsResponse>(
        [&](grpc::ClientContext* context, const std::string& token,
            vhostd::v1::ListCrossConnectsResponse* page) {
          vhostd::v1::ListCrossConnectsRequest request;
          request.set_page_token(token);
          return stub_->ListCrossConnects(context, request, page);
        },
        [](vhostd::v1::ListCrossConnectsResponse* page,
           vhostd::v1::ListCrossConnectsResponse* all) {
          for (vhostd::v1::CrossConnect& xc : *page->mutable_cross_connects()) {
            all->add_cross_connects()->Swap(&xc);
          }
        },
        &all);
    if (!status.ok()) return Fail(status);
    return Print(all, FormatCrossConnectTable(all));
  }

  int XconnectDelete() {
    vhostd::v1::DeleteCrossConnectRequest request;
    request.set_name(command_.name);
    request.set_allow_missing(command_.allow_missing);
    google::protobuf::Empty response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->DeleteCrossConnect(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, absl::StrCat("cross-connect ", command_.name, " deleted\n"));
  }

  int CoreList() {
    vhostd::v1::ListCoresRequest request;
    vhostd::v1::ListCoresResponse response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->ListCores(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, FormatCoreTable(response));
  }

  int PluginList() {
    vhostd::v1::ListPluginsRequest request;
    vhostd::v1::ListPluginsResponse response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->ListPlugins(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, FormatPluginTable(response));
  }

  const Command& command_;
  const std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vhostd::v1::Vhostd::Stub> stub_;
  const absl::Duration timeout_;
  const std::chrono::system_clock::time_point deadline_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

int RunCommand(const Command& command, const std::string& target,
               const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
               std::ostream& err) {
  if (IsLiveView(command)) {
    StopToken stop;  // never stopped: runs command.count times, or forever
    return RunLiveView(command, target, channel, /*tty=*/false, SystemClock(), stop, out, err);
  }
  return Runner(command, target, channel, out, err).Run();
}

}  // namespace vhostctl
