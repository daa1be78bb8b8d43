#include "client/output_format.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
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

// --- JSON -------------------------------------------------------------------------------

TEST(ToJsonTest, CanonicalMappingWithDefaults) {
  Port port = FromText<Port>(R"pb(
    name: "vm1"
    vhost_user { socket_path: "/run/vhostd/vm1.sock" mode: MODE_CLIENT queues: 0 }
    status { state: UP negotiated_features: 4294967296 dataplane_port_id: -1 }
  )pb");
  std::string json = ToJson(port);
  EXPECT_THAT(json, HasSubstr("\"name\": \"vm1\""));
  EXPECT_THAT(json, HasSubstr("\"vhostUser\": {"));
  EXPECT_THAT(json, HasSubstr("\"socketPath\": \"/run/vhostd/vm1.sock\""));
  EXPECT_THAT(json, HasSubstr("\"mode\": \"MODE_CLIENT\""));
  EXPECT_THAT(json, HasSubstr("\"queues\": 0"));  // set explicitly: printed
  EXPECT_THAT(json, HasSubstr("\"tso\": false"));  // default primitive: printed
  EXPECT_THAT(json, HasSubstr("\"iommuSupport\": false"));
  EXPECT_THAT(json, HasSubstr("\"state\": \"UP\""));
  EXPECT_THAT(json, HasSubstr("\"negotiatedFeatures\": \"4294967296\""));  // 64-bit: string
  EXPECT_THAT(json, HasSubstr("\"negotiatedFeatureNames\": []"));
  EXPECT_THAT(json, HasSubstr("\"dataplanePortId\": -1"));
  EXPECT_THAT(json, Not(HasSubstr("socket_path")));
  EXPECT_THAT(json, Not(HasSubstr("vhostKernel")));  // the other oneof members
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
}

TEST(ToJsonTest, UnsetOptionalIsOmitted) {
  Port port = FromText<Port>(R"pb(name: "v" vdpa { device: "vdpa0" })pb");
  std::string json = ToJson(port);
  EXPECT_THAT(json, HasSubstr("\"device\": \"vdpa0\""));
  EXPECT_THAT(json, Not(HasSubstr("queues")));
}

TEST(ToJsonTest, Empty) { EXPECT_EQ(ToJson(google::protobuf::Empty()), "{}\n"); }

TEST(ToJsonTest, MergedListHasEmptyPageToken) {
  ListPortsResponse response = FromText<ListPortsResponse>(R"pb(
    ports { name: "a" } ports { name: "b" }
  )pb");
  std::string json = ToJson(response);
  EXPECT_THAT(json, HasSubstr("\"ports\": ["));
  EXPECT_THAT(json, HasSubstr("\"nextPageToken\": \"\""));
}

// --- Names ------------------------------------------------------------------------------

TEST(NamesTest, PortType) {
  EXPECT_EQ(PortTypeName(FromText<Port>("vhost_user {}")), "vhost-user");
  EXPECT_EQ(PortTypeName(FromText<Port>("vhost_kernel {}")), "vhost-kernel");
  EXPECT_EQ(PortTypeName(FromText<Port>("vdpa {}")), "vdpa");
  EXPECT_EQ(PortTypeName(Port()), "-");
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

TEST(FormatPortTableTest, EveryType) {
  ListPortsResponse response = FromText<ListPortsResponse>(R"pb(
    ports {
      name: "k1"
      vhost_kernel { netns: "/var/run/netns/blue" queues: 2 }
      status { state: DOWN }
    }
    ports {
      name: "vdpa-port"
      vdpa { device: "/dev/vhost-vdpa-0" queues: 16 }
      status { state: ERROR message: "no such device" }
    }
    ports {
      name: "vm1"
      vhost_user { socket_path: "/run/vhostd/vm1.sock" mode: MODE_CLIENT }
      status { state: WAITING_FOR_PEER }
    }
    ports {
      name: "vm2"
      vhost_user { socket_path: "vm2.sock" }
      status { state: UP }
    }
    ports { name: "weird" }
  )pb");
  EXPECT_EQ(FormatPortTable(response),
            "NAME        TYPE           STATE              QUEUES   DETAIL\n"
            "k1          vhost-kernel   DOWN                    2   tap=k1 netns=/var/run/netns/blue\n"
            "vdpa-port   vdpa           ERROR                  16   device=/dev/vhost-vdpa-0\n"
            "vm1         vhost-user     WAITING_FOR_PEER        1   socket=/run/vhostd/vm1.sock mode=client\n"
            "vm2         vhost-user     UP                      1   socket=vm2.sock mode=server\n"
            "weird       -              -                       -   -\n");
}

TEST(FormatPortTableTest, ExplicitTapName) {
  ListPortsResponse response = FromText<ListPortsResponse>(R"pb(
    ports { name: "k1" vhost_kernel { tap_name: "tap0" } }
  )pb");
  EXPECT_THAT(FormatPortTable(response), HasSubstr("tap=tap0\n"));
}

TEST(FormatPortTableTest, Empty) {
  EXPECT_EQ(FormatPortTable(ListPortsResponse()), "NAME   TYPE   STATE   QUEUES   DETAIL\n");
}

TEST(FormatPortDetailsTest, VhostUser) {
  Port port = FromText<Port>(R"pb(
    name: "vm1"
    vhost_user {
      socket_path: "/run/vhostd/vm1.sock"
      queues: 2
      tso: true
      ext_buffer: true
    }
    status {
      state: UP
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
      frontend_connections: 2
      dirty_logging: true
      feature_changes: 1
    }
  )pb");
  EXPECT_EQ(FormatPortDetails(port),
            "name:                 vm1\n"
            "type:                 vhost-user\n"
            "socket:               /run/vhostd/vm1.sock\n"
            "mode:                 server (default)\n"
            "queues:               2\n"
            "options:              tso, ext-buffer\n"
            "state:                UP\n"
            "backend:              -\n"
            "message:              -\n"
            "mac:                  52:54:00:12:34:56\n"
            "features:             0x0000000150008000\n"
            "feature names:        VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_VERSION_1\n"
            "active queues:        1\n"
            "frontend connections: 2\n"
            "dirty logging:        on (live migration)\n"
            "feature changes:      1\n"
            "frontend connects:    3\n"
            "frontend disconnects: 2\n"
            "dataplane port id:    4\n"
            "queue 0:              rx enabled, tx enabled, lcore 2\n"
            "queue 1:              rx disabled, tx enabled, lcore none\n");
}

TEST(FormatPortDetailsTest, VhostUserModesAndOptions) {
  Port port = FromText<Port>(R"pb(
    name: "vm1"
    vhost_user {
      socket_path: "s"
      mode: MODE_CLIENT
      iommu_support: true
      postcopy_support: true
      linear_buffer: true
    }
  )pb");
  std::string details = FormatPortDetails(port);
  EXPECT_THAT(details, HasSubstr("mode:                 client\n"));
  EXPECT_THAT(details,
              HasSubstr("options:              iommu-support, postcopy-support, linear-buffer\n"));
  EXPECT_THAT(details, HasSubstr("queues:               1\n"));  // unset means 1
  EXPECT_THAT(details, HasSubstr("state:                -\n"));
  EXPECT_THAT(details, HasSubstr("feature names:        -\n"));

  port.mutable_vhost_user()->set_mode(vhostd::v1::VhostUserSpec::MODE_SERVER);
  port.mutable_vhost_user()->clear_iommu_support();
  port.mutable_vhost_user()->clear_postcopy_support();
  port.mutable_vhost_user()->clear_linear_buffer();
  details = FormatPortDetails(port);
  EXPECT_THAT(details, HasSubstr("mode:                 server\n"));
  EXPECT_THAT(details, HasSubstr("options:              none\n"));
}

TEST(FormatPortDetailsTest, VhostKernel) {
  Port port = FromText<Port>(R"pb(
    name: "k1"
    vhost_kernel { mac: "52:54:00:00:00:01" mtu: 9000 }
    status { state: ERROR message: "tap: Operation\nnot permitted" dataplane_port_id: -1 }
  )pb");
  std::string details = FormatPortDetails(port);
  EXPECT_THAT(details, HasSubstr("type:                 vhost-kernel\n"));
  EXPECT_THAT(details, HasSubstr("tap:                  k1\n"));
  EXPECT_THAT(details, HasSubstr("netns:                -\n"));
  EXPECT_THAT(details, HasSubstr("requested mac:        52:54:00:00:00:01\n"));
  EXPECT_THAT(details, HasSubstr("mtu:                  9000\n"));
  EXPECT_THAT(details, HasSubstr("state:                ERROR\n"));
  EXPECT_THAT(details, HasSubstr("message:              tap: Operation not permitted\n"));
  EXPECT_THAT(details, HasSubstr("dataplane port id:    none\n"));
  EXPECT_THAT(details, Not(HasSubstr("socket")));

  port.mutable_vhost_kernel()->clear_mtu();
  EXPECT_THAT(FormatPortDetails(port), HasSubstr("mtu:                  default\n"));
}

TEST(FormatPortDetailsTest, Vdpa) {
  Port port = FromText<Port>(R"pb(
    name: "v1" vdpa { device: "vdpa0" queues: 4 }
  )pb");
  std::string details = FormatPortDetails(port);
  EXPECT_THAT(details, HasSubstr("type:                 vdpa\n"));
  EXPECT_THAT(details, HasSubstr("device:               vdpa0\n"));
  EXPECT_THAT(details, HasSubstr("queues:               4\n"));
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
            "LCORE   CPU   BUSY%   PACKETS   QUEUES\n"
            "    1     2    12.5   1000000   vm1/0->vm2,vm2/0->vm1\n"
            "   12    14       -         0   -\n");
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
