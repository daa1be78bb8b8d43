#include "client/output_format.h"

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/testing/test_descriptors.h"
#include "client/type_catalog.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using vhostd::v1::Core;
using vhostd::v1::CrossConnect;
using vhostd::v1::ListCoresResponse;
using vhostd::v1::ListCrossConnectsResponse;
using vhostd::v1::ListPluginsResponse;
using vhostd::v1::ListPortsResponse;
using vhostd::v1::Port;
using vhostd::v1::PortStats;
using vhostd::v1::PortStatus;

constexpr char kVhostUser[] = "vhostd.plugins.vhost_user.v1.VhostUserSpec";
constexpr char kVhostKernel[] = "vhostd.plugins.vhost_kernel.v1.VhostKernelSpec";
constexpr char kVdpa[] = "vhostd.plugins.vdpa.v1.VdpaSpec";

template <typename Message>
Message FromText(const std::string& text) {
  Message message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

// --- Table --------------------------------------------------------------------------

TEST(TableTest, PadsColumnsToTheWidestCell) {
  Table table({{"NAME"}, {"TYPE"}, {"DETAIL"}});
  table.AddRow({"a", "vhost-kernel", "x"});
  table.AddRow({"long-port-name", "vdpa", "device=/dev/vhost-vdpa-0"});
  EXPECT_EQ(table.Render(),
            "NAME             TYPE           DETAIL\n"
            "a                vhost-kernel   x\n"
            "long-port-name   vdpa           device=/dev/vhost-vdpa-0\n");
}

TEST(TableTest, RightAlignedColumns) {
  Table table({{"QUEUE"}, {"RX_PKTS", Align::kRight}, {"TX_PKTS", Align::kRight}});
  table.AddRow({"0", "5", "123456789"});
  table.AddRow({"total", "1234567890", "0"});
  EXPECT_EQ(table.Render(),
            "QUEUE      RX_PKTS     TX_PKTS\n"
            "0                5   123456789\n"
            "total   1234567890           0\n");
}

TEST(TableTest, HeaderOnlyWhenEmpty) {
  Table table({{"NAME"}, {"PORT_A"}, {"PORT_B"}});
  EXPECT_EQ(table.Render(), "NAME   PORT_A   PORT_B\n");
}

TEST(TableTest, NoTrailingSpaces) {
  Table table({{"A"}, {"B"}, {"C"}});
  table.AddRow({"x", "", ""});
  table.AddRow({"y", "long value", ""});
  std::string rendered = table.Render();
  EXPECT_EQ(rendered,
            "A   B            C\n"
            "x\n"
            "y   long value\n");
}

TEST(TableTest, MissingCellsAreBlankAndExtraCellsDropped) {
  Table table({{"A"}, {"B"}});
  table.AddRow({"1"});
  table.AddRow({"2", "3", "ignored"});
  EXPECT_EQ(table.Render(),
            "A   B\n"
            "1\n"
            "2   3\n");
}

TEST(TableTest, ControlCharactersBecomeSpaces) {
  Table table({{"NAME"}, {"DESCRIPTION"}});
  table.AddRow({"p", "line one\nline\ttwo"});
  EXPECT_EQ(table.Render(),
            "NAME   DESCRIPTION\n"
            "p      line one line two\n");
}

TEST(TableTest, Utf8CellsAlignByCharacters) {
  Table table({{"NAME"}, {"X"}});
  table.AddRow({"caf\xc3\xa9", "1"});  // "café": 5 bytes, 4 characters
  table.AddRow({"abcde", "2"});
  EXPECT_EQ(table.Render(),
            "NAME    X\n"
            "caf\xc3\xa9    1\n"
            "abcde   2\n");
}

TEST(DisplayWidthTest, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("caf\xc3\xa9"), 4u);
  EXPECT_EQ(DisplayWidth("\xe2\x82\xac"), 1u);  // euro sign
}

TEST(RenderKeyValuesTest, AlignsValues) {
  EXPECT_EQ(RenderKeyValues({{"name", "vm1"}, {"frontend connects", "3"}, {"message", ""}}),
            "name:              vm1\n"
            "frontend connects: 3\n"
            "message:\n");
}

// --- Names ------------------------------------------------------------------------------

TEST(NamesTest, PortType) {
  EXPECT_EQ(PortTypeName(FromText<Port>(R"pb(type: "vhost-user")pb")), "vhost-user");
  EXPECT_EQ(PortTypeName(FromText<Port>(R"pb(type: "uplink")pb")), "uplink");
  EXPECT_EQ(PortTypeName(Port()), "-");
}

TEST(NamesTest, PortLabels) {
  EXPECT_EQ(PortLabelsText(Port()), "-");
  EXPECT_EQ(PortLabelsText(FromText<Port>(R"pb(labels { key: "k8s.pod.name" value: "web-0" }
                                               labels { key: "cni.ifname" value: "net1" }
                                               labels { key: "empty" value: "" })pb")),
            "cni.ifname=net1, empty=, k8s.pod.name=web-0");
}

TEST(NamesTest, PortState) {
  PortStatus status;
  EXPECT_EQ(PortStateName(status), "-");
  status.set_state(PortStatus::WAITING_FOR_PEER);
  EXPECT_EQ(PortStateName(status), "WAITING_FOR_PEER");
  status.set_state(PortStatus::ERROR);
  EXPECT_EQ(PortStateName(status), "ERROR");
  status.set_state(static_cast<PortStatus::State>(42));  // from a newer daemon
  EXPECT_EQ(PortStateName(status), "STATE_42");
}

TEST(NamesTest, StatusCodes) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(1), "CANCELLED");
  EXPECT_EQ(StatusCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(5), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(6), "ALREADY_EXISTS");
  EXPECT_EQ(StatusCodeName(9), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(12), "UNIMPLEMENTED");
  EXPECT_EQ(StatusCodeName(14), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(17), "CODE_17");
  EXPECT_EQ(StatusCodeName(-1), "CODE_-1");
}

TEST(NamesTest, BusyPercent) {
  Core core;
  EXPECT_EQ(BusyPercent(core), "-");
  core.set_busy_cycles(1);
  core.set_idle_cycles(3);
  EXPECT_EQ(BusyPercent(core), "25.0");
  core.set_busy_cycles(std::numeric_limits<uint64_t>::max());
  core.set_idle_cycles(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(BusyPercent(core), "50.0");  // no overflow
  core.set_idle_cycles(0);
  EXPECT_EQ(BusyPercent(core), "100.0");
}

// --- Responses --------------------------------------------------------------------------

// A port whose spec (and type status) are plugin messages given in text format.
Port PortOf(const std::string& name, const std::string& type, const std::string& spec_type,
            const std::string& spec, const std::string& status = "") {
  Port port = FromText<Port>(absl::StrCat("name: \"", name, "\" type: \"", type, "\" status {",
                                          status, "}"));
  *port.mutable_spec() = test_data::PackText(spec_type, spec);
  return port;
}

class FormatPortTest : public ::testing::Test {
 protected:
  void SetUp() override { catalog_.AddPlugins(test_data::Plugins()); }
  TypeCatalog catalog_;
};

TEST_F(FormatPortTest, TableOfEveryType) {
  ListPortsResponse response;
  *response.add_ports() = PortOf("k1", "vhost-kernel", kVhostKernel,
                                 R"pb(tap_name: "k1" netns: "/var/run/netns/blue" queues: 2)pb",
                                 "state: DOWN");
  *response.add_ports() = PortOf("vdpa-port", "vdpa", kVdpa,
                                 R"pb(device: "/dev/vhost-vdpa-0" queues: 16)pb",
                                 R"pb(state: ERROR message: "no such device")pb");
  *response.add_ports() = PortOf("vm1", "vhost-user", kVhostUser,
                                 R"pb(socket_path: "/run/vhostd/vm1.sock" mode: MODE_CLIENT queues: 1)pb",
                                 "state: WAITING_FOR_PEER");
  *response.add_ports() = PortOf("vm2", "vhost-user", kVhostUser, R"pb(socket_path: "vm2.sock")pb",
                                 "state: UP");
  *response.add_ports() = FromText<Port>(R"pb(name: "weird")pb");
  EXPECT_EQ(FormatPortTable(response, catalog_),
            "NAME        TYPE           STATE              QUEUES   DETAIL\n"
            "k1          vhost-kernel   DOWN                    2   tap_name=k1 netns=/var/run/netns/blue\n"
            "vdpa-port   vdpa           ERROR                  16   device=/dev/vhost-vdpa-0\n"
            "vm1         vhost-user     WAITING_FOR_PEER        1   socket_path=/run/vhostd/vm1.sock mode=MODE_CLIENT\n"
            "vm2         vhost-user     UP                      -   socket_path=vm2.sock\n"
            "weird       -              -                       -   -\n");
}

TEST_F(FormatPortTest, TableWithAPluginNotLoaded) {
  TypeCatalog bare;  // no plugin describes the spec
  ListPortsResponse response;
  *response.add_ports() = PortOf("vm1", "vhost-user", kVhostUser, R"pb(socket_path: "s" queues: 2)pb",
                                 R"pb(state: ERROR message: "plugin vhost-user not loaded")pb");
  EXPECT_EQ(FormatPortTable(response, bare),
            "NAME   TYPE         STATE   QUEUES   DETAIL\n"
            "vm1    vhost-user   ERROR        -   -\n");
}

TEST_F(FormatPortTest, TableEmpty) {
  EXPECT_EQ(FormatPortTable(ListPortsResponse(), catalog_), "NAME   TYPE   STATE   QUEUES   DETAIL\n");
}

TEST_F(FormatPortTest, DetailsOfAVhostUserPort) {
  Port port = PortOf("vm1", "vhost-user", kVhostUser,
                     R"pb(socket_path: "/run/vhostd/vm1.sock" queues: 2 tso: true ext_buffer: true)pb",
                     R"pb(
                       state: UP
                       backend: "vhost-user"
                       mac: "52:54:00:12:34:56"
                       negotiated_features: 0x150008000
                       negotiated_feature_names: "VIRTIO_NET_F_MRG_RXBUF"
                       negotiated_feature_names: "VIRTIO_F_VERSION_1"
                       queues { queue: 0 rx_enabled: true tx_enabled: true lcore: 2 }
                       queues { queue: 1 rx_enabled: false tx_enabled: true lcore: -1 }
                       frontend_connects: 3
                       frontend_disconnects: 2
                       dataplane_port_id: 4
                       active_queues: 1
                     )pb");
  *port.mutable_status()->mutable_type_status() = test_data::PackText(
      "vhostd.plugins.vhost_user.v1.VhostUserStatus",
      "frontend_connections: 2 dirty_logging: true feature_changes: 1");
  EXPECT_EQ(FormatPortDetails(port, catalog_),
            "name:                           vm1\n"
            "type:                           vhost-user\n"
            "labels:                         -\n"
            "spec:                           vhostd.plugins.vhost_user.v1.VhostUserSpec\n"
            "  socket_path:                  /run/vhostd/vm1.sock\n"
            "  mode:                         MODE_UNSPECIFIED\n"
            "  queues:                       2\n"
            "  tso:                          true\n"
            "  iommu_support:                false\n"
            "  postcopy_support:             false\n"
            "  linear_buffer:                false\n"
            "  ext_buffer:                   true\n"
            "  disable_mrg_rxbuf:            false\n"
            "  checksum:                     -\n"
            "  no_reconnect:                 false\n"
      "  socket_mode:                  -\n"
      "  socket_owner:                 -\n"
      "  socket_group:                 -\n"
            "state:                          UP\n"
            "backend:                        vhost-user\n"
            "message:                        -\n"
            "mac:                            52:54:00:12:34:56\n"
            "features:                       0x0000000150008000\n"
            "feature names:                  VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_VERSION_1\n"
            "active queues:                  1\n"
            "frontend connects:              3\n"
            "frontend disconnects:           2\n"
            "dataplane port id:              4\n"
            "type status:                    vhostd.plugins.vhost_user.v1.VhostUserStatus\n"
            "  frontend_connections:         2\n"
            "  dirty_logging:                true\n"
            "  feature_changes:              1\n"
            "  memory_regions:               0\n"
            "  memory_regions_shrink_sealed: 0\n"
            "  refused_memory_tables:        0\n"
            "  guest_memory_faults:          0\n"
            "  dropped_control_channels:     0\n"
            "  refused_connections:          0\n"
            "queue 0:                        rx enabled, tx enabled, lcore 2\n"
            "queue 1:                        rx disabled, tx enabled, lcore none\n");
}

TEST_F(FormatPortTest, DetailsOfAVhostKernelPort) {
  Port port = PortOf("k1", "vhost-kernel", kVhostKernel, R"pb(mac: "52:54:00:00:00:01" mtu: 9000)pb",
                     R"pb(state: ERROR message: "tap: Operation\nnot permitted" dataplane_port_id: -1
                          mtu: 1500)pb");
  std::string details = FormatPortDetails(port, catalog_);
  EXPECT_THAT(details, HasSubstr("type:                 vhost-kernel\n"));
  EXPECT_THAT(details, HasSubstr("  tap_name:           -\n"));
  EXPECT_THAT(details, HasSubstr("  mac:                52:54:00:00:00:01\n"));
  EXPECT_THAT(details, HasSubstr("  mtu:                9000\n"));
  EXPECT_THAT(details, HasSubstr("current mtu:          1500\n"));
  EXPECT_THAT(details, HasSubstr("state:                ERROR\n"));
  EXPECT_THAT(details, HasSubstr("message:              tap: Operation not permitted\n"));
  EXPECT_THAT(details, HasSubstr("dataplane port id:    none\n"));
  EXPECT_THAT(details, HasSubstr("type status:          -\n"));
  EXPECT_THAT(details, Not(HasSubstr("socket")));
}

TEST_F(FormatPortTest, DetailsWithoutSpecOrWithAnUnknownOne) {
  Port port = FromText<Port>(R"pb(name: "v1" type: "vdpa")pb");
  EXPECT_THAT(FormatPortDetails(port, catalog_), HasSubstr("spec:                 - (the type's defaults)\n"));
  *port.mutable_spec() = test_data::PackText(kVdpa, R"pb(device: "vdpa0")pb");
  TypeCatalog bare;
  EXPECT_THAT(FormatPortDetails(port, bare),
              HasSubstr("spec:                 vhostd.plugins.vdpa.v1.VdpaSpec (not shown: no plugin "
                        "of the daemon describes vhostd.plugins.vdpa.v1.VdpaSpec)\n"));
}

TEST_F(FormatPortTest, EveryKindOfField) {
  const google::protobuf::Any any = test_data::PackText("vhostctl.testing.v1.TestSpec", R"pb(
    socket_path: "s" offset: -3 ratio: 0.5 color: COLOR_RED key: "hi"
    tags: "a" tags: "b" inner { label: "x" } labels { key: "k" value: "v" }
    host_index: 7 wait { seconds: 2 }
  )pb");
  std::string why;
  std::unique_ptr<google::protobuf::Message> spec = catalog_.Unpack(any, &why);
  ASSERT_NE(spec, nullptr) << why;
  std::vector<std::pair<std::string, std::string>> lines;
  AppendMessageFields(*spec, "> ", &lines);
  std::map<std::string, std::string> fields(lines.begin(), lines.end());
  EXPECT_EQ(fields["> socket_path"], "s");
  EXPECT_EQ(fields["> tap_name"], "-");
  EXPECT_EQ(fields["> queues"], "-");  // optional, unset
  EXPECT_EQ(fields["> offset"], "-3");
  EXPECT_EQ(fields["> ratio"], "0.5");
  EXPECT_EQ(fields["> color"], "COLOR_RED");
  EXPECT_EQ(fields["> key"], "aGk=");
  EXPECT_EQ(fields["> tags"], "a, b");
  EXPECT_EQ(fields["> ports"], "-");
  EXPECT_EQ(fields["> inner.label"], "x");
  EXPECT_EQ(fields["> labels[0].key"], "k");
  EXPECT_EQ(fields["> labels[0].value"], "v");
  EXPECT_EQ(fields["> host"], "-");  // the other oneof member
  EXPECT_EQ(fields["> host_index"], "7");
  EXPECT_EQ(fields["> wait.seconds"], "2");
  EXPECT_EQ(lines.front().first, "> socket_path");  // declaration order
  EXPECT_EQ(SpecSummary(*spec), "socket_path=s offset=-3");
}

TEST(FormatPortStatsTest, QueuesTotalAndErrors) {
  PortStats stats = FromText<PortStats>(R"pb(
    name: "vm1"
    queues {
      queue: 0
      rx_packets: 10
      rx_bytes: 6400
      tx_packets: 7
      tx_bytes: 448
      tx_dropped: 0
    }
    queues {
      queue: 1
      rx_packets: 123456789
      rx_bytes: 98765432100
      tx_packets: 2
      tx_bytes: 128
      tx_dropped: 15
    }
    rx_packets: 123456799
    rx_bytes: 98765438500
    tx_packets: 9
    tx_bytes: 576
    tx_dropped: 15
    rx_errors: 1
    tx_errors: 2
    rx_no_mbuf: 300
  )pb");
  EXPECT_EQ(FormatPortStats(stats),
            "QUEUE     RX_PKTS      RX_BYTES   TX_PKTS   TX_BYTES   TX_DROPPED\n"
            "0              10          6400         7        448            0\n"
            "1       123456789   98765432100         2        128           15\n"
            "total   123456799   98765438500         9        576           15\n"
            "\n"
            "rx errors:  1\n"
            "tx errors:  2\n"
            "rx no mbuf: 300\n");
}

TEST(FormatPortStatsTest, NoQueues) {
  EXPECT_EQ(FormatPortStats(PortStats()),
            "QUEUE   RX_PKTS   RX_BYTES   TX_PKTS   TX_BYTES   TX_DROPPED\n"
            "total         0          0         0          0            0\n"
            "\n"
            "rx errors:  0\n"
            "tx errors:  0\n"
            "rx no mbuf: 0\n");
}

TEST(FormatCrossConnectTest, Table) {
  ListCrossConnectsResponse response = FromText<ListCrossConnectsResponse>(R"pb(
    cross_connects { name: "x1" port_a: "vm1" port_b: "vm2" }
    cross_connects { name: "uplink-xc" port_a: "k1" port_b: "vdpa-port" }
  )pb");
  EXPECT_EQ(FormatCrossConnectTable(response),
            "NAME        PORT_A   PORT_B\n"
            "x1          vm1      vm2\n"
            "uplink-xc   k1       vdpa-port\n");
}

TEST(FormatCrossConnectTest, Details) {
  CrossConnect xc = FromText<CrossConnect>(R"pb(name: "x1" port_a: "vm1" port_b: "vm2")pb");
  EXPECT_EQ(FormatCrossConnectDetails(xc),
            "name:   x1\n"
            "port a: vm1\n"
            "port b: vm2\n");
}

TEST(FormatCoreTableTest, Table) {
  ListCoresResponse response = FromText<ListCoresResponse>(R"pb(
    cores {
      lcore: 1
      cpu: 2
      busy_cycles: 1
      idle_cycles: 7
      packets: 1000000
      queues { port: "vm1" queue: 0 forwards_to: "vm2" }
      queues { port: "vm2" queue: 0 forwards_to: "vm1" }
    }
    cores { lcore: 12 cpu: 14 }
  )pb");
  EXPECT_EQ(FormatCoreTable(response),
            "LCORE   CPU   ISOLATED   BUSY%   PACKETS   QUEUE        PINNED   USAGE%\n"
            "    1     2   no          12.5   1000000   vm1/0->vm2   no            -\n"
            "    1                                      vm2/0->vm1   no            -\n"
            "   12    14   no             -         0   -            -             -\n"
            "assign: -   isolate pinned: no   sleep max: 0 us\n");
}

// Like OVS's pmd-rxq-show: each queue's share of its core, pins, isolation, settings;
// slept cycles count in BUSY%'s total.
TEST(FormatCoreTableTest, SharesPinsAndSettings) {
  ListCoresResponse response = FromText<ListCoresResponse>(R"pb(
    cores {
      lcore: 2
      cpu: 1
      busy_cycles: 1
      idle_cycles: 1
      sleep_cycles: 2
      isolated: true
      queues { port: "vm1" queue: 1 forwards_to: "vm2" share_percent: 42.25 pinned: true }
    }
    settings { assign_mode: ASSIGN_MODE_GROUP isolate_pinned: true sleep_max_us: 100 }
  )pb");
  EXPECT_EQ(FormatCoreTable(response),
            "LCORE   CPU   ISOLATED   BUSY%   PACKETS   QUEUE        PINNED   USAGE%\n"
            "    2     1   yes         25.0         0   vm1/1->vm2   yes        42.2\n"
            "assign: group   isolate pinned: yes   sleep max: 100 us\n");
}

TEST(FormatRebalanceTest, MovesAndDryRun) {
  vhostd::v1::RebalanceCoresResponse response = FromText<vhostd::v1::RebalanceCoresResponse>(R"pb(
    moves { port: "vm1" queue: 0 from_lcore: 1 to_lcore: 2 }
  )pb");
  EXPECT_EQ(FormatRebalance(response),
            "PORT   QUEUE   FROM   TO\n"
            "vm1        0      1    2\n"
            "1 rx queue would move (dry run)\n");
  response.set_applied(true);
  EXPECT_THAT(FormatRebalance(response), testing::EndsWith("1 rx queue moved\n"));
  EXPECT_EQ(FormatRebalance({}), "no rx queue moves\n");
}

TEST(FormatPluginTableTest, Table) {
  ListPluginsResponse response = FromText<ListPluginsResponse>(R"pb(
    plugins {
      port_type: "vhost-user"
      file: "/usr/lib/vhostd/plugins/vhost_user.so"
      version: "1.0.0"
      abi_version: 1
      description: "vhost-user backend"
      available: true
    }
    plugins {
      port_type: "vdpa"
      file: "plugins/vdpa.so"
      version: "0.1"
      abi_version: 12
      description: "vhost-vdpa devices"
      available: false
      unavailable_reason: "no /dev/vhost-vdpa-*"
    }
    plugins { port_type: "vhost-kernel" available: false }
  )pb");
  EXPECT_EQ(FormatPluginTable(response),
            "TYPE           FILE                                    VERSION   ABI   AVAILABLE   DESCRIPTION\n"
            "vhost-user     /usr/lib/vhostd/plugins/vhost_user.so   1.0.0       1   yes         vhost-user backend\n"
            "vdpa           plugins/vdpa.so                         0.1        12   no          "
            "vhost-vdpa devices (unavailable: no /dev/vhost-vdpa-*)\n"
            "vhost-kernel   -                                       -           -   no          -\n");
}

}  // namespace
}  // namespace vhostctl
