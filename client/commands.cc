#include "client/commands.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bridge_output.h"
#include "client/event_output.h"
#include "client/flag_values.h"
#include "client/live_view.h"
#include "client/output_format.h"
#include "google/protobuf/empty.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostctl {

using vhostd::v1::CreateCrossConnectRequest;
using vhostd::v1::CreatePortRequest;

absl::StatusOr<CreatePortRequest> MakeCreatePortRequest(const Command& command,
                                                        const SpecFlags& flags,
                                                        TypeCatalog& catalog) {
  const PortCreateArgs& args = command.port;
  CreatePortRequest request;
  vhostd::v1::Port* port = request.mutable_port();
  port->set_name(command.name);
  port->set_type(args.type);
  port->mutable_labels()->insert(args.labels.begin(), args.labels.end());
  if (flags.spec() == nullptr) {
    if (args.spec_json) {
      return absl::InvalidArgumentError(
          absl::StrCat("--spec: --type ", args.type, " has no spec message"));
    }
    return request;
  }
  // Neither --spec nor a flag: no spec, which means the type's defaults.
  if (!args.spec_json && args.type_flags.empty()) return request;
  std::unique_ptr<google::protobuf::Message> spec = catalog.New(flags.spec());
  if (args.spec_json) {
    absl::Status status = ParseSpecJson(*args.spec_json, spec.get());
    if (!status.ok()) return status;
  }
  absl::Status status = flags.Apply(args.type_flags, spec.get());
  if (!status.ok()) return status;
  port->mutable_spec()->set_type_url(absl::StrCat(kTypeUrlPrefix, "/", flags.spec()->full_name()));
  port->mutable_spec()->set_value(spec->SerializeAsString());
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
        catalog_(std::make_unique<TypeCatalog>()),
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
      case CommandKind::kBridgeCreate:
      case CommandKind::kBridgeGet:
      case CommandKind::kBridgeDelete:
      case CommandKind::kBridgeList:
      case CommandKind::kBridgeAddPort:
      case CommandKind::kBridgeDelPort:
      case CommandKind::kBridgeMacs:
        return RunBridgeCommand();
      case CommandKind::kCoreList:
        return CoreList();
      case CommandKind::kCorePin:
        return CorePin();
      case CommandKind::kCoreUnpin:
        return CoreUnpin();
      case CommandKind::kCoreRebalance:
        return CoreRebalance();
      case CommandKind::kCoreSettings:
        return CoreSettings();
      case CommandKind::kPluginList:
        return PluginList();
      case CommandKind::kEvents:
        return Events();
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

  // A usage error only the daemon's answers revealed; returns 2, as main does for
  // the others.
  int UsageFailure(const std::string& message, const std::string& synopsis) {
    err_ << FormatUsageError(UsageError{message, synopsis});
    return 2;
  }

  // Prints a response: protobuf JSON (plugin messages decoded by the catalog), or the
  // table-mode rendering (a function, so that JSON output does not build it).
  int Print(const google::protobuf::Message& response, const std::function<std::string()>& table) {
    if (command_.output != OutputFormat::kJson) {
      out_ << table();
      return 0;
    }
    return PrintJson(response, /*multiline=*/true);
  }

  // Protobuf JSON of `message` (plugin messages decoded by the catalog); one line, ended
  // and flushed, unless `multiline`.
  int PrintJson(const google::protobuf::Message& message, bool multiline) {
    std::vector<std::string> warnings;
    absl::StatusOr<std::string> json = catalog_->ToJson(message, multiline, &warnings);
    for (const std::string& warning : warnings) err_ << "warning: " << warning << "\n";
    if (!json.ok()) {
      err_ << "error: " << json.status().message() << "\n";
      return 1;
    }
    out_ << *json;
    if (!multiline) out_ << std::endl;
    return 0;
  }

  int Print(const google::protobuf::Message& response, const std::string& table) {
    return Print(response, [&table] { return table; });
  }

  // The daemon's plugins and their messages' descriptors, into the catalog (once).
  grpc::Status LoadPlugins() {
    if (catalog_->has_plugins()) return grpc::Status::OK;
    vhostd::v1::ListPluginsRequest request;
    vhostd::v1::ListPluginsResponse response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->ListPlugins(context, request, &response);
    });
    if (!status.ok()) return status;
    catalog_->AddPlugins(response);
    for (const std::string& problem : catalog_->problems()) {
      err_ << "warning: a plugin's message descriptors are unusable: " << problem << "\n";
    }
    return grpc::Status::OK;
  }

  // Loads the plugins if any of `ports` carries one of their messages.
  grpc::Status LoadPluginsFor(const google::protobuf::RepeatedPtrField<vhostd::v1::Port>& ports) {
    for (const vhostd::v1::Port& port : ports) {
      if (port.has_spec() || port.status().has_type_status()) return LoadPlugins();
    }
    return grpc::Status::OK;
  }

  int PortCreate() {
    grpc::Status status = LoadPlugins();
    if (!status.ok()) return Fail(status);
    const std::string& type = command_.port.type;
    const vhostd::v1::Plugin* plugin = catalog_->FindPlugin(type);
    if (plugin == nullptr) {
      return UsageFailure(absl::StrCat("invalid value ", Quoted(type),
                                       " for --type: the daemon's port types are ",
                                       catalog_->TypeNames()),
                          PortCreateSynopsis(type, nullptr));
    }
    const google::protobuf::Descriptor* spec_type = nullptr;
    if (!plugin->spec_type().empty()) {
      spec_type = catalog_->FindMessage(plugin->spec_type());
      if (spec_type == nullptr) {
        err_ << "error: the descriptors of plugin " << type << " do not describe its spec type "
             << plugin->spec_type() << "\n";
        return 1;
      }
    }
    const SpecFlags flags(spec_type);
    if (command_.port.help) return TypeHelp(*plugin, flags);

    const ParseResult parsed = ParseArgs(command_.port.args, &flags.flags());
    if (!parsed.ok()) return UsageFailure(parsed.error->message, parsed.error->synopsis);
    absl::StatusOr<CreatePortRequest> request =
        MakeCreatePortRequest(parsed.command, flags, *catalog_);
    if (!request.ok()) {
      return UsageFailure(std::string(request.status().message()),
                          PortCreateSynopsis(type, &flags.flags()));
    }
    vhostd::v1::Port port;
    status = Call(
        [&](grpc::ClientContext* context) { return stub_->CreatePort(context, *request, &port); });
    if (!status.ok()) return Fail(status);
    return Print(port, [&] {
      return absl::StrCat("port ", port.name(), " created\n", FormatPortDetails(port, *catalog_));
    });
  }

  // "port create --type TYPE --help".
  int TypeHelp(const vhostd::v1::Plugin& plugin, const SpecFlags& flags) {
    out_ << "--type " << plugin.port_type() << ": "
         << (plugin.description().empty() ? "(no description)" : plugin.description());
    if (!plugin.version().empty()) out_ << ", version " << plugin.version();
    if (!plugin.available()) out_ << " (unavailable: " << plugin.unavailable_reason() << ")";
    out_ << "\n" << PortCreateSynopsis(plugin.port_type(), &flags.flags()) << "\n"
         << flags.Help(plugin.port_type());
    return 0;
  }

  int PortGet() {
    vhostd::v1::GetPortRequest request;
    request.set_name(command_.name);
    vhostd::v1::Port port;
    grpc::Status status = Call(
        [&](grpc::ClientContext* context) { return stub_->GetPort(context, request, &port); });
    if (!status.ok()) return Fail(status);
    if (port.has_spec() || port.status().has_type_status()) {
      status = LoadPlugins();
      if (!status.ok()) return Fail(status);
    }
    return Print(port, [&] { return FormatPortDetails(port, *catalog_); });
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
          request.set_label_selector(command_.label_selector);
          return stub_->ListPorts(context, request, page);
        },
        [](vhostd::v1::ListPortsResponse* page, vhostd::v1::ListPortsResponse* all) {
          for (vhostd::v1::Port& port : *page->mutable_ports()) {
            all->add_ports()->Swap(&port);
          }
        },
        &all);
    if (!status.ok()) return Fail(status);
    status = LoadPluginsFor(all.ports());
    if (!status.ok()) return Fail(status);
    return Print(all, [&] { return FormatPortTable(all, *catalog_); });
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

  // The bridge commands: one RPC each, printed as the daemon answered.
  int RunBridgeCommand() {
    google::protobuf::Empty empty;
    vhostd::v1::Bridge bridge;
    switch (command_.kind) {
      case CommandKind::kBridgeCreate: {
        const vhostd::v1::CreateBridgeRequest request = MakeCreateBridgeRequest(command_);
        grpc::Status status = Call([&](grpc::ClientContext* c) { return stub_->CreateBridge(c, request, &bridge); });
        if (!status.ok()) return Fail(status);
        return Print(bridge, absl::StrCat("bridge ", bridge.name(), " created\n", FormatBridgeDetails(bridge)));
      }
      case CommandKind::kBridgeGet:
      case CommandKind::kBridgeMacs: {
        vhostd::v1::GetBridgeRequest request;
        request.set_name(command_.name);
        request.set_mac_table(command_.kind == CommandKind::kBridgeMacs);
        grpc::Status status = Call([&](grpc::ClientContext* c) { return stub_->GetBridge(c, request, &bridge); });
        if (!status.ok()) return Fail(status);
        if (command_.kind == CommandKind::kBridgeMacs) return Print(bridge, [&] { return FormatMacTable(bridge); });
        return Print(bridge, [&] { return FormatBridgeDetails(bridge); });
      }
      case CommandKind::kBridgeDelete: {
        vhostd::v1::DeleteBridgeRequest request;
        request.set_name(command_.name);
        request.set_allow_missing(command_.allow_missing);
        grpc::Status status = Call([&](grpc::ClientContext* c) { return stub_->DeleteBridge(c, request, &empty); });
        if (!status.ok()) return Fail(status);
        return Print(empty, absl::StrCat("bridge ", command_.name, " deleted\n"));
      }
      case CommandKind::kBridgeAddPort: {
        const vhostd::v1::AddBridgePortRequest request = MakeAddBridgePortRequest(command_);
        vhostd::v1::BridgePort port;
        grpc::Status status = Call([&](grpc::ClientContext* c) { return stub_->AddBridgePort(c, request, &port); });
        if (!status.ok()) return Fail(status);
        return Print(port, absl::StrCat("port ", port.port(), " added to bridge ", command_.name, " (VLAN rule: ",
                                        VlanRuleText(port), ")\n"));
      }
      case CommandKind::kBridgeDelPort: {
        vhostd::v1::DeleteBridgePortRequest request;
        request.set_bridge(command_.name);
        request.set_port(command_.args.at(0));
        grpc::Status status = Call([&](grpc::ClientContext* c) { return stub_->DeleteBridgePort(c, request, &empty); });
        if (!status.ok()) return Fail(status);
        return Print(empty, absl::StrCat("port ", request.port(), " removed from bridge ", command_.name, "\n"));
      }
      default:
        return BridgeList();
    }
  }

  int BridgeList() {
    vhostd::v1::ListBridgesResponse all;
    grpc::Status status = FetchAllPages<vhostd::v1::ListBridgesResponse>(
        [&](grpc::ClientContext* context, const std::string& token, vhostd::v1::ListBridgesResponse* page) {
          vhostd::v1::ListBridgesRequest request;
          request.set_page_token(token);
          return stub_->ListBridges(context, request, page);
        },
        [](vhostd::v1::ListBridgesResponse* page, vhostd::v1::ListBridgesResponse* all) {
          for (vhostd::v1::Bridge& b : *page->mutable_bridges()) all->add_bridges()->Swap(&b);
        },
        &all);
    if (!status.ok()) return Fail(status);
    return Print(all, FormatBridgeTable(all));
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

  int CorePin() {
    vhostd::v1::PinQueueRequest request;
    request.mutable_pin()->set_port(command_.name);
    request.mutable_pin()->set_queue(command_.queue);
    request.mutable_pin()->set_lcore(command_.lcore);
    vhostd::v1::QueuePin response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->PinQueue(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, absl::StrCat("rx queue ", response.queue(), " of ", response.port(),
                                        " pinned to lcore ", response.lcore(), "\n"));
  }

  int CoreUnpin() {
    vhostd::v1::UnpinQueueRequest request;
    request.set_port(command_.name);
    request.set_queue(command_.queue);
    request.set_allow_missing(command_.allow_missing);
    google::protobuf::Empty response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->UnpinQueue(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, absl::StrCat("rx queue ", command_.queue, " of ", command_.name, " unpinned\n"));
  }

  int CoreRebalance() {
    vhostd::v1::RebalanceCoresRequest request;
    request.set_dry_run(command_.dry_run);
    vhostd::v1::RebalanceCoresResponse response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->RebalanceCores(context, request, &response);
    });
    if (!status.ok()) return Fail(status);
    return Print(response, FormatRebalance(response));
  }

  // Without flags: shows the settings; with some: changes those.
  int CoreSettings() {
    vhostd::v1::UpdateCoreSettingsRequest request;
    if (command_.assign_mode) {
      vhostd::v1::AssignMode mode = vhostd::v1::ASSIGN_MODE_UNSPECIFIED;
      vhostd::v1::AssignMode_Parse("ASSIGN_MODE_" + absl::AsciiStrToUpper(*command_.assign_mode), &mode);
      request.set_assign_mode(mode);
    }
    if (command_.isolate_pinned) request.set_isolate_pinned(*command_.isolate_pinned);
    if (command_.sleep_max_us) request.set_sleep_max_us(*command_.sleep_max_us);
    vhostd::v1::CoreSettings response;
    grpc::Status status = Call([&](grpc::ClientContext* context) {
      return stub_->UpdateCoreSettings(context, request, &response);  // no field set: changes nothing
    });
    if (!status.ok()) return Fail(status);
    return Print(response, FormatCoreSettings(response));
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

  vhostd::v1::WatchEventsRequest MakeWatchRequest() const {
    vhostd::v1::WatchEventsRequest request;
    // Without --since: the retained history (then, with --follow, what comes next).
    request.set_after_sequence(command_.since ? *command_.since : 0);
    request.set_instance_id(command_.instance_id);
    request.set_follow(command_.follow);
    request.set_port(command_.event_port);
    return request;
  }

  // One line per event, flushed at once (a pipe reader sees each as it comes); -o json:
  // one JSON object per line. --follow has no deadline: it runs until the daemon ends it
  // or the user stops vhostctl.
  int Events() {
    if (command_.output == OutputFormat::kJson) {
      // PortCreated carries the port's spec: its plugin message needs the descriptors.
      if (grpc::Status status = LoadPlugins(); !status.ok()) return Fail(status);
    }
    grpc::ClientContext context;
    if (!command_.follow) context.set_deadline(deadline_);
    std::unique_ptr<grpc::ClientReader<vhostd::v1::Event>> reader =
        stub_->WatchEvents(&context, MakeWatchRequest());
    vhostd::v1::Event event;
    while (reader->Read(&event)) {
      if (int failed = PrintEventLine(event); failed != 0) {
        context.TryCancel();
        return failed;
      }
    }
    grpc::Status status = reader->Finish();
    return status.ok() ? 0 : Fail(status);
  }

  int PrintEventLine(const vhostd::v1::Event& event) {
    if (command_.output != OutputFormat::kJson) {
      out_ << FormatEventLine(event) << std::endl;
      return 0;
    }
    return PrintJson(event, /*multiline=*/false);
  }

  const Command& command_;
  const std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vhostd::v1::Vhostd::Stub> stub_;
  std::unique_ptr<TypeCatalog> catalog_;  // the API's messages, and the plugins' once loaded
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
    return RunLiveView(command, target, channel, /*tty=*/false, stop, out, err);
  }
  return Runner(command, target, channel, out, err).Run();
}

}  // namespace vhostctl
