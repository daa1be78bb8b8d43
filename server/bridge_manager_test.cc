// PortManager's bridges with the fake plugin and engine: what the cores are given, the
// one-bridge-or-cross-connect rule, persistence and restore, roll-back when the data
// plane or the state file refuses a change, and views kept alive while a core may run them.
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "dataplane/bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/port_manager.h"
#include "server/state_store.h"
#include "server/testing/fake_forwarding_engine.h"
#include "server/testing/fake_port_plugin.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using fakes::FakeForwardingEngine;
using fakes::FakePluginLog;
using fakes::FakePortPlugin;
using vhostd::plugins::vhost_user::v1::VhostUserSpec;
using vhostd::v1::Bridge;
using vhostd::v1::BridgePort;

class BridgeManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(tmp ? tmp : "/tmp", "/bridge_manager_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Start();
    for (const char* name : {"vm1", "vm2", "vm3"}) {
      vhostd::v1::Port port;
      port.set_name(name);
      port.set_type("vhost-user");
      VhostUserSpec spec;
      spec.set_socket_path(absl::StrCat(name, ".sock"));
      port.mutable_spec()->PackFrom(spec);
      ASSERT_TRUE(manager_->CreatePort(port).ok());
    }
  }
  void TearDown() override {
    manager_.reset();
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }

  // A fresh daemon on the same state file.
  void Start() {
    manager_.reset();
    store_ = std::make_unique<StateStore>(dir_ + "/state.json");
    registry_ = std::make_unique<PluginRegistry>();
    ASSERT_TRUE(registry_->Register(FakePortPlugin::Info(), std::make_unique<FakePortPlugin>(log_)).ok());
    engine_ = std::make_unique<FakeForwardingEngine>(2);
    manager_ = std::make_unique<PortManager>(registry_.get(), engine_.get(), store_.get(), PluginContext{});
  }

  static Bridge Named(const std::string& name) {
    Bridge b;
    b.set_name(name);
    return b;
  }
  static BridgePort Access(const std::string& port, uint32_t vlan) {
    BridgePort p;
    p.set_port(port);
    p.set_access_vlan(vlan);
    return p;
  }
  static BridgePort Plain(const std::string& port) {
    BridgePort p;
    p.set_port(port);
    return p;
  }

  // The bridge entries the engine was last given: (port, slot), and their view.
  std::vector<std::pair<std::string, const BridgeView*>> BridgeEntries() {
    std::vector<std::pair<std::string, const BridgeView*>> out;
    for (const CoreProgram& program : engine_->applied.back()) {
      for (size_t i = 0; i < program.entries.size(); ++i) {
        if (program.entries[i].bridge) out.push_back({program.labels[i].rx_port, program.entries[i].bridge});
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
  std::shared_ptr<FakePluginLog> log_ = std::make_shared<FakePluginLog>();
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<PluginRegistry> registry_;
  std::unique_ptr<FakeForwardingEngine> engine_;
  std::unique_ptr<PortManager> manager_;
};

TEST_F(BridgeManagerTest, PortsJoinTheCoresProgramsWithTheirVlanRules) {
  absl::StatusOr<Bridge> created = manager_->CreateBridge(Named("br0"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->mac_table_size(), 2048u);
  EXPECT_EQ(created->mac_aging_seconds(), 300u);
  ASSERT_TRUE(manager_->AddBridgePort("br0", Access("vm1", 10)).ok());
  ASSERT_TRUE(manager_->AddBridgePort("br0", Plain("vm2")).ok());
  auto entries = BridgeEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "vm1");
  EXPECT_EQ(entries[0].second, entries[1].second) << "one view for the bridge";
  const BridgeView& view = *entries[0].second;
  EXPECT_EQ(view.name, "br0");
  ASSERT_EQ(view.members.size(), 2u);
  EXPECT_EQ(view.members[0].name, "vm1");
  EXPECT_EQ(view.members[0].vlan.mode, VlanMode::kAccess);
  EXPECT_EQ(view.members[0].vlan.access_vlan, 10);
  EXPECT_EQ(view.members[1].vlan.mode, VlanMode::kNone);
  // Detaching: the view goes, the other port stays, the slot is free again.
  ASSERT_TRUE(manager_->DeleteBridgePort("br0", "vm1").ok());
  entries = BridgeEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "vm2");
  ASSERT_TRUE(manager_->AddBridgePort("br0", Plain("vm3")).ok());
  EXPECT_EQ(BridgeEntries()[1].second->members[0].name, "vm3") << "the lowest free slot";
}

TEST_F(BridgeManagerTest, APortIsInOneBridgeOrOneCrossConnect) {
  ASSERT_TRUE(manager_->CreateBridge(Named("br0")).ok());
  ASSERT_TRUE(manager_->CreateBridge(Named("br1")).ok());
  ASSERT_TRUE(manager_->AddBridgePort("br0", Plain("vm1")).ok());
  absl::StatusOr<BridgePort> again = manager_->AddBridgePort("br1", Plain("vm1"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("port.port: port vm1 is already in bridge br0"));
  vhostd::v1::CrossConnect x;
  x.set_name("x1");
  x.set_port_a("vm2");
  x.set_port_b("vm1");
  absl::StatusOr<vhostd::v1::CrossConnect> cross = manager_->CreateCrossConnect(x);
  EXPECT_EQ(cross.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cross.status().message()), HasSubstr("cross_connect.port_b: port vm1 is already in bridge"));
  x.set_port_b("vm3");
  ASSERT_TRUE(manager_->CreateCrossConnect(x).ok());
  again = manager_->AddBridgePort("br1", Plain("vm3"));
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("port.port: port vm3 is already part of cross-connect x1"));
  EXPECT_EQ(manager_->DeletePort("vm1", false).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BridgeManagerTest, BridgesComeBackFromTheStateFile) {
  Bridge settings = Named("br0");
  settings.set_mac_table_size(100);
  settings.set_mac_aging_seconds(30);
  ASSERT_TRUE(manager_->CreateBridge(settings).ok());
  BridgePort trunk;
  trunk.set_port("vm2");
  for (uint32_t v : {20, 10, 20}) trunk.mutable_trunk()->add_vlans(v);
  ASSERT_TRUE(manager_->AddBridgePort("br0", Access("vm1", 10)).ok());
  absl::StatusOr<BridgePort> added = manager_->AddBridgePort("br0", trunk);
  ASSERT_TRUE(added.ok());
  EXPECT_THAT(added->trunk().vlans(), ::testing::ElementsAre(10, 20)) << "sorted, each once";
  Start();
  ASSERT_TRUE(manager_->Restore().ok());
  absl::StatusOr<Bridge> restored = manager_->GetBridge("br0", false);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->mac_table_size(), 100u);
  EXPECT_EQ(restored->mac_aging_seconds(), 30u);
  ASSERT_EQ(restored->ports_size(), 2);
  EXPECT_EQ(restored->ports(0).access_vlan(), 10u);
  EXPECT_THAT(restored->ports(1).trunk().vlans(), ::testing::ElementsAre(10, 20));
  EXPECT_EQ(BridgeEntries().size(), 2u) << "the restored bridge is forwarding";
  // A removal is persisted too.
  ASSERT_TRUE(manager_->DeleteBridgePort("br0", "vm1").ok());
  ASSERT_TRUE(manager_->DeleteBridge("br0", false).ok());
  Start();
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_EQ(manager_->GetBridge("br0", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(manager_->AddBridgePort("br0", Plain("vm1")).status().code() == absl::StatusCode::kNotFound);
}

TEST_F(BridgeManagerTest, ChangesTheDataPlaneRefusesAreRolledBack) {
  ASSERT_TRUE(manager_->CreateBridge(Named("br0")).ok());
  ASSERT_TRUE(manager_->AddBridgePort("br0", Plain("vm1")).ok());
  const BridgeView* installed = BridgeEntries()[0].second;
  engine_->apply_error = absl::DeadlineExceededError("polling lcore 1 did not take its new program");
  absl::StatusOr<BridgePort> added = manager_->AddBridgePort("br0", Plain("vm2"));
  EXPECT_EQ(added.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(added.status().message()), HasSubstr("port not added"));
  absl::Status removed = manager_->DeleteBridgePort("br0", "vm1");
  EXPECT_EQ(removed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager_->DeleteBridge("br0", false).code(), absl::StatusCode::kUnavailable);
  // Every view a core may still run is alive (a stuck core may run the first one):
  // reading it must not touch freed memory (ASan would say; here: it is intact).
  EXPECT_EQ(installed->name, "br0");
  EXPECT_EQ(installed->members.at(0).name, "vm1");
  absl::StatusOr<Bridge> bridge = manager_->GetBridge("br0", false);
  ASSERT_TRUE(bridge.ok());
  ASSERT_EQ(bridge->ports_size(), 1);
  EXPECT_EQ(bridge->ports(0).port(), "vm1");
  engine_->apply_error = absl::OkStatus();
  Start();
  ASSERT_TRUE(manager_->Restore().ok());
  ASSERT_EQ(manager_->GetBridge("br0", false)->ports_size(), 1) << "nothing refused was saved";
}

TEST_F(BridgeManagerTest, PortStatsCarryTheBridgeCounters) {
  ASSERT_TRUE(manager_->CreateBridge(Named("br0")).ok());
  ASSERT_TRUE(manager_->AddBridgePort("br0", Plain("vm1")).ok());
  const BridgeView* view = BridgeEntries()[0].second;
  CounterAdd(view->members[0].stats[3].flooded, 5);  // as two cores would count
  CounterAdd(view->members[0].stats[7].flooded, 2);
  CounterAdd(view->members[0].stats[7].vlan_dropped, 1);
  absl::StatusOr<vhostd::v1::PortStats> stats = manager_->GetPortStats("vm1");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->bridge(), "br0");
  EXPECT_EQ(stats->bridge_counters().flooded(), 7u);
  EXPECT_EQ(stats->bridge_counters().vlan_dropped(), 1u);
  EXPECT_EQ(manager_->GetPortStats("vm2")->bridge(), "");
  // A port that leaves keeps counting in the bridge's totals.
  ASSERT_TRUE(manager_->DeleteBridgePort("br0", "vm1").ok());
  EXPECT_EQ(manager_->GetBridge("br0", false)->counters().flooded(), 7u);
}

}  // namespace
}  // namespace vhostd
