// Runs vhostctl commands against a fake vhostd served in-process (no socket, no
// data plane) and checks the requests it sent and what it printed.
#include "client/commands.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli_args.h"
#include "client/output_format.h"
#include "client/testing/test_descriptors.h"
#include "client/type_catalog.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using namespace vhostd::v1;  // NOLINT: the test touches most of the API's messages

constexpr char kVhostUser[] = "vhostd.plugins.vhost_user.v1.VhostUserSpec";
constexpr char kVdpa[] = "vhostd.plugins.vdpa.v1.VdpaSpec";

// Serves canned answers and records the requests it receives.
class FakeVhostd final : public Vhostd::Service {
 public:
  grpc::Status CreatePort(grpc::ServerContext*, const CreatePortRequest* request,
                          Port* response) override {
    std::lock_guard<std::mutex> lock(mu);
    create_port_requests.push_back(*request);
    if (!create_port_status.ok()) return create_port_status;
    *response = request->port();
    response->mutable_status()->set_state(PortStatus::WAITING_FOR_PEER);
    return grpc::Status::OK;
  }

  grpc::Status GetPort(grpc::ServerContext*, const GetPortRequest* request,
                       Port* response) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const Port& port : ports) {
      if (port.name() == request->name()) {
        *response = port;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("port ", request->name(), " not found"));
  }

  grpc::Status ListPorts(grpc::ServerContext*, const ListPortsRequest* request,
                         ListPortsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    list_ports_tokens.push_back(request->page_token());
    if (stuck_token) {
      *response->add_ports() = ports.at(0);
      response->set_next_page_token("stuck");
      return grpc::Status::OK;
    }
    // The token is the index of the first port of the page.
    size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    for (size_t i = start; i < ports.size() && i < start + page_size; ++i) {
      *response->add_ports() = ports[i];
    }
    if (start + page_size < ports.size()) {
      response->set_next_page_token(absl::StrCat(start + page_size));
    }
    return grpc::Status::OK;
  }

  grpc::Status DeletePort(grpc::ServerContext*, const DeletePortRequest* request,
                          google::protobuf::Empty*) override {
    std::lock_guard<std::mutex> lock(mu);
    delete_port_requests.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status GetPortStats(grpc::ServerContext*, const GetPortStatsRequest* request,
                            PortStats* response) override {
    response->set_name(request->name());
    QueueStats* queue = response->add_queues();
    queue->set_rx_packets(5);
    queue->set_tx_packets(6);
    response->set_rx_packets(5);
    response->set_tx_packets(6);
    response->set_rx_no_mbuf(1);
    return grpc::Status::OK;
  }

  grpc::Status CreateCrossConnect(grpc::ServerContext*, const CreateCrossConnectRequest* request,
                                  CrossConnect* response) override {
    std::lock_guard<std::mutex> lock(mu);
    create_xc_requests.push_back(*request);
    if (request->cross_connect().port_a() == "busy") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "cross_connect.port_a: port busy is in cross-connect x0");
    }
    *response = request->cross_connect();
    return grpc::Status::OK;
  }

  grpc::Status DeleteCrossConnect(grpc::ServerContext*, const DeleteCrossConnectRequest* request,
                                  google::protobuf::Empty*) override {
    std::lock_guard<std::mutex> lock(mu);
    delete_xc_requests.push_back(*request);
    if (!request->allow_missing()) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "");
    }
    return grpc::Status::OK;
  }

  grpc::Status ListCrossConnects(grpc::ServerContext*, const ListCrossConnectsRequest* request,
                                 ListCrossConnectsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    list_xc_tokens.push_back(request->page_token());
    if (request->page_token().empty()) {
      CrossConnect* xc = response->add_cross_connects();
      xc->set_name("x1");
      xc->set_port_a("a");
      xc->set_port_b("b");
      response->set_next_page_token("next");
    } else {
      CrossConnect* xc = response->add_cross_connects();
      xc->set_name("x2");
      xc->set_port_a("c");
      xc->set_port_b("d");
    }
    return grpc::Status::OK;
  }

  grpc::Status ListPlugins(grpc::ServerContext*, const ListPluginsRequest*,
                           ListPluginsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    ++list_plugins_calls;
    if (!list_plugins_status.ok()) return list_plugins_status;
    *response = plugins;
    return grpc::Status::OK;
  }

  grpc::Status ListCores(grpc::ServerContext* context, const ListCoresRequest*,
                         ListCoresResponse* response) override {
    if (hang) {
      // Stands for a daemon that never answers: wait for the client to give up.
      auto give_up = std::chrono::system_clock::now() + std::chrono::seconds(10);
      while (!context->IsCancelled() && std::chrono::system_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return grpc::Status::CANCELLED;
    }
    Core* core = response->add_cores();
    core->set_lcore(3);
    core->set_cpu(5);
    return grpc::Status::OK;
  }

  std::mutex mu;
  ListPluginsResponse plugins = test_data::Plugins();
  grpc::Status list_plugins_status;
  int list_plugins_calls = 0;
  std::vector<Port> ports;
  size_t page_size = 2;
  bool stuck_token = false;  // always answer with the same next_page_token
  bool hang = false;         // ListCores never answers
  grpc::Status create_port_status;
  std::vector<CreatePortRequest> create_port_requests;
  std::vector<DeletePortRequest> delete_port_requests;
  std::vector<CreateCrossConnectRequest> create_xc_requests;
  std::vector<DeleteCrossConnectRequest> delete_xc_requests;
  std::vector<std::string> list_ports_tokens;
  std::vector<std::string> list_xc_tokens;
};

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }

  void TearDown() override { server_->Shutdown(); }

  // Parses and runs a command line against the fake; returns the exit status.
  int Run(const std::vector<std::string>& args) {
    ParseResult parsed = ParseArgs(args);
    EXPECT_TRUE(parsed.ok()) << parsed.error->message;
    out_.str("");
    err_.str("");
    return RunCommand(parsed.command, "fake", channel_, out_, err_);
  }

  // Runs with a command line that ParseArgs may reject (exit status 2 as main has it).
  int RunAny(const std::vector<std::string>& args) {
    ParseResult parsed = ParseArgs(args);
    out_.str("");
    err_.str("");
    if (!parsed.ok()) {
      err_ << FormatUsageError(*parsed.error);
      return 2;
    }
    return RunCommand(parsed.command, "fake", channel_, out_, err_);
  }

  void AddPorts(int count) {
    for (int i = 0; i < count; ++i) {
      Port port;
      port.set_name(absl::StrCat("p", i));
      port.set_type("vdpa");
      *port.mutable_spec() = test_data::PackText(kVdpa, absl::StrCat("device: \"vdpa", i, "\" queues: 1"));
      fake_.ports.push_back(port);
    }
  }

  // The spec of the one port created, in text format.
  std::string CreatedSpec() {
    EXPECT_EQ(fake_.create_port_requests.size(), 1u);
    if (fake_.create_port_requests.empty()) return "";
    return test_data::UnpackToText(fake_.create_port_requests[0].port().spec());
  }

  FakeVhostd fake_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::ostringstream out_;
  std::ostringstream err_;
};

// --- port create ----------------------------------------------------------------------

TEST_F(CommandsTest, PortCreateVhostUserSendsEveryField) {
  ASSERT_EQ(Run({"port", "create", "vm1", "--type", "vhost-user", "--socket", "/s.sock",
                 "--mode", "client", "--queues", "4", "--tso", "--iommu-support",
                 "--postcopy-support", "--linear-buffer", "--ext-buffer", "--no-mrg-rxbuf",
                 "--no-checksum"}),
            0)
      << err_.str();
  ASSERT_EQ(fake_.create_port_requests.size(), 1u);
  const Port& port = fake_.create_port_requests[0].port();
  EXPECT_EQ(port.name(), "vm1");
  EXPECT_EQ(port.type(), "vhost-user");
  EXPECT_EQ(port.spec().type_url(), std::string("type.googleapis.com/") + kVhostUser);
  EXPECT_EQ(CreatedSpec(),
            "socket_path: \"/s.sock\" mode: MODE_CLIENT queues: 4 tso: true iommu_support: true "
            "postcopy_support: true linear_buffer: true ext_buffer: true disable_mrg_rxbuf: true "
            "checksum: false");
  EXPECT_FALSE(port.has_status());
  EXPECT_EQ(fake_.list_plugins_calls, 1);
}

TEST_F(CommandsTest, PortCreateLeavesQueuesUnsetWhenNotGiven) {
  ASSERT_EQ(Run({"port", "create", "vm1", "--type", "vhost-user", "--socket", "s"}), 0);
  EXPECT_EQ(CreatedSpec(), "socket_path: \"s\"");
}

TEST_F(CommandsTest, PortCreateWithoutFlagsSendsNoSpec) {
  ASSERT_EQ(Run({"port", "create", "k1", "--type", "vhost-kernel"}), 0) << err_.str();
  const Port& port = fake_.create_port_requests.at(0).port();
  EXPECT_EQ(port.type(), "vhost-kernel");
  EXPECT_FALSE(port.has_spec());  // the type's defaults
}

TEST_F(CommandsTest, PortCreateSendsQueuesZeroAndReportsTheServersError) {
  fake_.create_port_status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "port.spec.queues: must be 1..16");
  EXPECT_EQ(Run({"port", "create", "vm1", "--type", "vhost-user", "--socket", "s", "--queues",
                 "0"}),
            1);
  EXPECT_EQ(CreatedSpec(), "socket_path: \"s\" queues: 0");
  EXPECT_EQ(err_.str(), "error: INVALID_ARGUMENT: port.spec.queues: must be 1..16\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, PortCreateVhostKernel) {
  ASSERT_EQ(Run({"port", "create", "k1", "--type", "vhost-kernel", "--tap", "tap1", "--netns",
                 "/var/run/netns/x", "--mac", "52:54:00:00:00:01", "--mtu", "1500"}),
            0);
  EXPECT_EQ(CreatedSpec(),
            "tap_name: \"tap1\" netns: \"/var/run/netns/x\" mac: \"52:54:00:00:00:01\" mtu: 1500");
}

TEST_F(CommandsTest, PortCreateVdpa) {
  ASSERT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--device", "vdpa0", "--queues", "2"}),
            0);
  EXPECT_EQ(CreatedSpec(), "device: \"vdpa0\" queues: 2");
}

TEST_F(CommandsTest, PortCreateSpecJsonAndFlags) {
  ASSERT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--spec",
                 R"({"device": "vdpa0", "queues": 2})", "--queues", "3"}),
            0)
      << err_.str();
  EXPECT_EQ(CreatedSpec(), "device: \"vdpa0\" queues: 3");
}

TEST_F(CommandsTest, PortCreateTablePrintsConfirmationThenDetails) {
  ASSERT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--device", "vdpa0"}), 0);
  EXPECT_THAT(out_.str(), StartsWith("port v1 created\nname:"));
  EXPECT_THAT(out_.str(), HasSubstr("spec:                 vhostd.plugins.vdpa.v1.VdpaSpec\n"
                                    "  device:             vdpa0\n"));
  EXPECT_THAT(out_.str(), HasSubstr("state:                WAITING_FOR_PEER\n"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, PortCreateJsonPrintsThePort) {
  ASSERT_EQ(Run({"-o", "json", "port", "create", "v1", "--type", "vdpa", "--device", "vdpa0"}),
            0);
  EXPECT_THAT(out_.str(), StartsWith("{\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\"state\": \"WAITING_FOR_PEER\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"@type\": \"type.googleapis.com/vhostd.plugins.vdpa.v1.VdpaSpec\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"device\": \"vdpa0\""));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, PortCreateUnknownTypeIsAUsageError) {
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vhost-net"}), 2);
  EXPECT_THAT(err_.str(),
              StartsWith("vhostctl: invalid value 'vhost-net' for --type: the daemon's port types "
                         "are test-type, vdpa, vhost-kernel, vhost-user\n"));
  EXPECT_THAT(fake_.create_port_requests, IsEmpty());
}

TEST_F(CommandsTest, PortCreateFlagOfAnotherTypeIsAUsageError) {
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--device", "d", "--socket", "s"}), 2);
  // The usage line is the type's own flags, from its spec's descriptor (wrapped).
  EXPECT_THAT(err_.str(), StartsWith("vhostctl: unknown flag --socket for --type vdpa\n"
                                     "usage: vhostctl port create NAME --type vdpa [--spec JSON] "));
  EXPECT_THAT(err_.str(), HasSubstr("[--device DEVICE]"));
  EXPECT_THAT(fake_.create_port_requests, IsEmpty());
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--queues", "many"}), 2);
  EXPECT_THAT(err_.str(), StartsWith("vhostctl: invalid value 'many' for --queues: expected a whole "
                                     "number 0..4294967295\n"));
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vdpa", "--spec", "{\"dev\": 1}"}), 2);
  EXPECT_THAT(err_.str(), StartsWith("vhostctl: --spec: not vhostd.plugins.vdpa.v1.VdpaSpec"));
  EXPECT_THAT(fake_.create_port_requests, IsEmpty());
}

TEST_F(CommandsTest, PortCreateTypeWithoutSpecMessage) {
  Plugin* bare = fake_.plugins.add_plugins();
  bare->set_port_type("bare");
  ASSERT_EQ(Run({"port", "create", "b1", "--type", "bare"}), 0) << err_.str();
  EXPECT_FALSE(fake_.create_port_requests.at(0).port().has_spec());
  EXPECT_EQ(Run({"port", "create", "b2", "--type", "bare", "--spec", "{}"}), 2);
  EXPECT_THAT(err_.str(), StartsWith("vhostctl: --spec: --type bare has no spec message\n"));
  EXPECT_EQ(Run({"port", "create", "b3", "--type", "bare", "--x"}), 2);
  EXPECT_THAT(err_.str(), StartsWith("vhostctl: unknown flag --x for --type bare\n"));
}

TEST_F(CommandsTest, PortCreateTypeHelpListsItsFlags) {
  ASSERT_EQ(RunAny({"port", "create", "--type", "vhost-user", "--help"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("--type vhost-user: vhost-user ports, version 1.0\n"
                                     "usage: vhostctl port create NAME --type vhost-user [--spec JSON]\n"));
  EXPECT_THAT(out_.str(), HasSubstr("  --socket-path, --socket PATH "));
  EXPECT_THAT(out_.str(), HasSubstr("  --mode server|client "));
  EXPECT_THAT(out_.str(), HasSubstr("  --checksum, --no-checksum "));
  EXPECT_THAT(fake_.create_port_requests, IsEmpty());
}

TEST_F(CommandsTest, PortCreateWhenListPluginsFails) {
  fake_.list_plugins_status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no plugins here");
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vdpa"}), 1);
  EXPECT_EQ(err_.str(), "error: UNIMPLEMENTED: no plugins here\n");
  EXPECT_THAT(fake_.create_port_requests, IsEmpty());
}

TEST_F(CommandsTest, PortCreateOfATypeWhoseDescriptorsLackItsSpec) {
  fake_.plugins.mutable_plugins(0)->set_spec_type("vhostd.plugins.vdpa.v1.Gone");
  EXPECT_EQ(Run({"port", "create", "v1", "--type", "vdpa"}), 1);
  EXPECT_EQ(err_.str(),
            "error: the descriptors of plugin vdpa do not describe its spec type "
            "vhostd.plugins.vdpa.v1.Gone\n");
}

// --- port get / delete / stats ----------------------------------------------------------

TEST_F(CommandsTest, PortGet) {
  AddPorts(1);
  *fake_.ports[0].mutable_status()->mutable_type_status() =
      test_data::PackText("vhostd.plugins.vdpa.v1.VdpaStatus", R"pb(device_path: "/dev/vhost-vdpa-0")pb");
  ASSERT_EQ(Run({"port", "get", "p0"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("name:"));
  EXPECT_THAT(out_.str(), HasSubstr("  device:             vdpa0\n"));
  EXPECT_THAT(out_.str(), HasSubstr("type status:          vhostd.plugins.vdpa.v1.VdpaStatus\n"
                                    "  device_path:        /dev/vhost-vdpa-0\n"));
}

TEST_F(CommandsTest, PortGetJson) {
  AddPorts(1);
  ASSERT_EQ(Run({"port", "get", "p0", "-o", "json"}), 0) << err_.str();
  TypeCatalog catalog;
  catalog.AddPlugins(test_data::Plugins());
  EXPECT_EQ(out_.str(), *catalog.ToJson(fake_.ports[0], true, nullptr));
  EXPECT_THAT(out_.str(), HasSubstr("\"device\": \"vdpa0\""));
}

TEST_F(CommandsTest, PortOfAPluginTheDaemonDidNotLoad) {
  AddPorts(1);
  fake_.plugins.mutable_plugins()->DeleteSubrange(0, 1);  // vdpa gone
  ASSERT_EQ(Run({"port", "get", "p0"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("spec:                 vhostd.plugins.vdpa.v1.VdpaSpec (not shown: "
                                    "no plugin of the daemon describes vhostd.plugins.vdpa.v1.VdpaSpec)\n"));
  ASSERT_EQ(Run({"port", "get", "p0", "-o", "json"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("\"@type\": \"type.googleapis.com/vhostd.plugins.vdpa.v1.VdpaSpec\""));
  EXPECT_THAT(out_.str(), Not(HasSubstr("vdpa0")));
  EXPECT_THAT(err_.str(), StartsWith("warning: vhostd.plugins.vdpa.v1.VdpaSpec is not described"));
}

TEST_F(CommandsTest, PortGetWithoutPluginMessagesNeedsNoListPlugins) {
  fake_.ports.push_back(Port());
  fake_.ports.back().set_name("bare");
  ASSERT_EQ(Run({"port", "get", "bare"}), 0);
  EXPECT_EQ(fake_.list_plugins_calls, 0);
}

TEST_F(CommandsTest, PortGetNotFound) {
  EXPECT_EQ(Run({"port", "get", "vm9"}), 1);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: port vm9 not found\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, PortDelete) {
  ASSERT_EQ(Run({"port", "delete", "vm1"}), 0);
  ASSERT_EQ(Run({"port", "delete", "vm2", "--allow-missing"}), 0);
  EXPECT_EQ(out_.str(), "port vm2 deleted\n");
  ASSERT_EQ(fake_.delete_port_requests.size(), 2u);
  EXPECT_EQ(fake_.delete_port_requests[0].name(), "vm1");
  EXPECT_FALSE(fake_.delete_port_requests[0].allow_missing());
  EXPECT_EQ(fake_.delete_port_requests[1].name(), "vm2");
  EXPECT_TRUE(fake_.delete_port_requests[1].allow_missing());
}

TEST_F(CommandsTest, PortDeleteJsonPrintsEmptyObject) {
  ASSERT_EQ(Run({"port", "delete", "vm1", "-o", "json"}), 0);
  EXPECT_EQ(out_.str(), "{}\n");
}

TEST_F(CommandsTest, PortStats) {
  ASSERT_EQ(Run({"port", "stats", "vm1"}), 0);
  EXPECT_THAT(out_.str(), StartsWith("QUEUE   RX_PKTS"));
  EXPECT_THAT(out_.str(), HasSubstr("\ntotal "));
  EXPECT_THAT(out_.str(), HasSubstr("rx no mbuf: 1\n"));
}

// --- Lists follow page tokens ---------------------------------------------------------

TEST_F(CommandsTest, PortListFollowsPageTokens) {
  AddPorts(5);
  ASSERT_EQ(Run({"port", "list"}), 0) << err_.str();
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre("", "2", "4"));
  EXPECT_EQ(out_.str(),
            "NAME   TYPE   STATE   QUEUES   DETAIL\n"
            "p0     vdpa   -            1   device=vdpa0\n"
            "p1     vdpa   -            1   device=vdpa1\n"
            "p2     vdpa   -            1   device=vdpa2\n"
            "p3     vdpa   -            1   device=vdpa3\n"
            "p4     vdpa   -            1   device=vdpa4\n");
  EXPECT_EQ(fake_.list_plugins_calls, 1);
}

TEST_F(CommandsTest, PortListJsonMergesPages) {
  AddPorts(3);
  ASSERT_EQ(Run({"-o", "json", "port", "list"}), 0);
  ListPortsResponse merged;
  for (int i = 0; i < 3; ++i) *merged.add_ports() = fake_.ports[i];
  TypeCatalog catalog;
  catalog.AddPlugins(test_data::Plugins());
  EXPECT_EQ(out_.str(), *catalog.ToJson(merged, true, nullptr));
  EXPECT_THAT(out_.str(), HasSubstr("\"nextPageToken\": \"\""));
}

TEST_F(CommandsTest, PortListEmpty) {
  ASSERT_EQ(Run({"port", "list"}), 0);
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre(""));
  EXPECT_EQ(out_.str(), "NAME   TYPE   STATE   QUEUES   DETAIL\n");
  EXPECT_EQ(fake_.list_plugins_calls, 0);  // no port, no plugin message to decode
}

TEST_F(CommandsTest, PortListStopsOnARepeatedPageToken) {
  AddPorts(5);
  fake_.stuck_token = true;
  EXPECT_EQ(Run({"port", "list"}), 1);
  EXPECT_THAT(err_.str(), StartsWith("error: INTERNAL: "));
  EXPECT_THAT(err_.str(), HasSubstr("same page token"));
  EXPECT_THAT(fake_.list_ports_tokens, ElementsAre("", "stuck"));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CommandsTest, XconnectListFollowsPageTokens) {
  ASSERT_EQ(Run({"xconnect", "list"}), 0);
  EXPECT_THAT(fake_.list_xc_tokens, ElementsAre("", "next"));
  EXPECT_EQ(out_.str(),
            "NAME   PORT_A   PORT_B\n"
            "x1     a        b\n"
            "x2     c        d\n");
  ASSERT_EQ(Run({"xconnect", "list", "-o", "json"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("\"nextPageToken\": \"\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"name\": \"x2\""));
}

// --- xconnect create / delete -----------------------------------------------------------

TEST_F(CommandsTest, XconnectCreate) {
  ASSERT_EQ(Run({"xconnect", "create", "x1", "--ports", "vm1,vm2"}), 0);
  const CrossConnect& xc = fake_.create_xc_requests.at(0).cross_connect();
  EXPECT_EQ(xc.name(), "x1");
  EXPECT_EQ(xc.port_a(), "vm1");
  EXPECT_EQ(xc.port_b(), "vm2");
  EXPECT_EQ(out_.str(),
            "cross-connect x1 created\n"
            "name:   x1\n"
            "port a: vm1\n"
            "port b: vm2\n");
}

TEST_F(CommandsTest, XconnectCreateError) {
  EXPECT_EQ(Run({"xconnect", "create", "x1", "--ports", "busy,vm2"}), 1);
  EXPECT_EQ(err_.str(),
            "error: FAILED_PRECONDITION: cross_connect.port_a: port busy is in cross-connect x0\n");
}

TEST_F(CommandsTest, XconnectDelete) {
  ASSERT_EQ(Run({"xconnect", "delete", "x1", "--allow-missing"}), 0);
  EXPECT_EQ(out_.str(), "cross-connect x1 deleted\n");
  EXPECT_TRUE(fake_.delete_xc_requests.at(0).allow_missing());
}

TEST_F(CommandsTest, ErrorWithoutMessage) {
  EXPECT_EQ(Run({"xconnect", "delete", "x1"}), 1);
  EXPECT_EQ(err_.str(), "error: PERMISSION_DENIED\n");
}

// --- core / plugin ------------------------------------------------------------------------

TEST_F(CommandsTest, CoreList) {
  ASSERT_EQ(Run({"core", "list"}), 0);
  EXPECT_EQ(out_.str(),
            "LCORE   CPU   ISOLATED   BUSY%   PACKETS   QUEUE   PINNED   USAGE%\n"
            "    3     5   no             -         0   -       -             -\n"
            "assign: -   isolate pinned: no   sleep max: 0 us\n");
}

TEST_F(CommandsTest, PluginList) {
  fake_.plugins.Clear();
  Plugin* plugin = fake_.plugins.add_plugins();
  plugin->set_port_type("vhost-user");
  plugin->set_version("1.0");
  plugin->set_file("/usr/lib/vhostd/plugins/vhost_user.so");
  plugin->set_abi_version(1);
  plugin->set_description("vhost-user backend");
  plugin->set_available(true);
  ASSERT_EQ(Run({"plugin", "list"}), 0);
  EXPECT_EQ(out_.str(),
            "TYPE         FILE                                    VERSION   ABI   AVAILABLE   DESCRIPTION\n"
            "vhost-user   /usr/lib/vhostd/plugins/vhost_user.so   1.0         1   yes         vhost-user backend\n");
}

// --- Deadlines and connection failures ------------------------------------------------------

TEST_F(CommandsTest, SlowDaemonHitsTheDeadline) {
  fake_.hang = true;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run({"--timeout", "0.2", "core", "list"}), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(err_.str(), StartsWith("error: DEADLINE_EXCEEDED: "));
  EXPECT_THAT(err_.str(), HasSubstr("vhostd at fake within 200ms"));
}

TEST(CommandsConnectionTest, NoDaemonFailsFastWithAClearMessage) {
  const std::string target = "unix:/nonexistent-vhostctl-test-dir/vhostd.sock";
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  ParseResult parsed = ParseArgs({"--timeout", "5", "port", "list"});
  ASSERT_TRUE(parsed.ok());
  std::ostringstream out;
  std::ostringstream err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunCommand(parsed.command, target, channel, out, err), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_THAT(err.str(), StartsWith("error: UNAVAILABLE: cannot connect to vhostd at " + target +
                                    " (is the daemon running?)"));
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace vhostctl
