// PortManager::Reprogram end to end with the fake engine: plans start from where the
// cores poll now, so a change moves only the queues it must.
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/port_manager.h"
#include "server/state_store.h"
#include "server/testing/fake_forwarding_engine.h"
#include "server/testing/fake_port_plugin.h"

namespace vhostd {
namespace {

using fakes::FakeForwardingEngine;
using fakes::FakePluginLog;
using fakes::FakePortPlugin;
using vhostd::plugins::vhost_user::v1::VhostUserSpec;
using vhostd::v1::CrossConnect;
using vhostd::v1::Port;

class ReprogramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/reprogram_XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    store_ = std::make_unique<StateStore>(dir + "/state.json");
    registry_ = std::make_unique<PluginRegistry>();
    auto plugin = std::make_unique<FakePortPlugin>(log_);
    ASSERT_TRUE(registry_->Register(FakePortPlugin::Info(), std::move(plugin)).ok());
    manager_ = std::make_unique<PortManager>(registry_.get(), &engine_, store_.get(), PluginContext{});
  }

  void CreatePort(const std::string& name, uint32_t queues) {
    Port port;
    port.set_name(name);
    port.set_type("vhost-user");
    VhostUserSpec spec;
    spec.set_socket_path(name + ".sock");
    spec.set_queues(queues);
    port.mutable_spec()->PackFrom(spec);
    ASSERT_TRUE(manager_->CreatePort(port).ok()) << name;
  }

  void Connect(const std::string& name, const std::string& a, const std::string& b) {
    CrossConnect x;
    x.set_name(name);
    x.set_port_a(a);
    x.set_port_b(b);
    ASSERT_TRUE(manager_->CreateCrossConnect(x).ok()) << name;
  }

  CurrentAssignment Now() const { return AssignmentOf(engine_.Cores()); }

  std::shared_ptr<FakePluginLog> log_ = std::make_shared<FakePluginLog>();
  FakeForwardingEngine engine_{2};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<PluginRegistry> registry_;
  std::unique_ptr<PortManager> manager_;
};

// Every queue of `before` that `after` still polls is on the same core.
void ExpectNothingMoved(const CurrentAssignment& before, const CurrentAssignment& after) {
  for (const auto& [queue, placed] : before) {
    auto it = after.find(queue);
    if (it != after.end()) EXPECT_EQ(it->second.core, placed.core) << queue.first << " queue " << queue.second;
  }
}

// The new cross-connect sorts first and has an odd number of entries (2 + 1): planned
// from scratch in name order, every unit after it would change core.
TEST_F(ReprogramTest, CreatingAndDeletingAnUnrelatedCrossConnectMovesNoQueue) {
  CreatePort("a1", 2);
  CreatePort("a2", 1);
  for (const char* name : {"m3", "m4", "m5", "m6"}) CreatePort(name, 1);
  Connect("x2", "m3", "m4");
  Connect("x3", "m5", "m6");
  const CurrentAssignment before = Now();
  ASSERT_EQ(before.size(), 4u);

  Connect("x1", "a1", "a2");
  const CurrentAssignment with_x1 = Now();
  ASSERT_EQ(with_x1.size(), 7u);
  ExpectNothingMoved(before, with_x1);

  ASSERT_TRUE(manager_->DeleteCrossConnect("x2", false).ok());
  ASSERT_EQ(Now().size(), 5u);
  ExpectNothingMoved(with_x1, Now());
}

// A frontend that enables more queues adds units; the queues that ran keep their core.
TEST_F(ReprogramTest, AQueueCountChangeMovesOnlyThatPortsNewQueues) {
  CreatePort("p1", 4);
  CreatePort("p2", 4);
  CreatePort("q1", 1);
  CreatePort("q2", 1);
  log_->live.at("p1")->active_queues = 1;
  log_->live.at("p2")->active_queues = 1;
  Connect("x1", "p1", "p2");
  Connect("x2", "q1", "q2");
  const CurrentAssignment before = Now();
  ASSERT_EQ(before.size(), 4u);
  log_->live.at("p1")->active_queues = 4;
  log_->live.at("p2")->active_queues = 4;
  manager_->Reconcile();
  ASSERT_EQ(Now().size(), 10u);
  ExpectNothingMoved(before, Now());
}

// Measured loads steer new queues: a core with one hot queue gets no new one, even
// though it polls fewer queues; ListCores shows what was measured.
TEST_F(ReprogramTest, NewQueuesGoToTheLessLoadedCoreAndListCoresShowsTheLoads) {
  for (const char* name : {"h1", "h2", "i1", "i2", "n1", "n2"}) CreatePort(name, 1);
  CreatePort("i3", 2);
  Connect("x1", "h1", "h2");  // h1 -> core 0, h2 -> core 1
  Connect("x2", "i1", "i3");  // i1 -> core 0, i3's two queues -> core 1
  CurrentAssignment now = Now();
  ASSERT_EQ(now.at({"h1", 0}).core, 0u);
  ASSERT_EQ(now.at({"i3", 0}).core, 1u);
  engine_.loads[{"h1", 0}] = QueueLoad{9000, 0.8};
  engine_.loads[{"h2", 0}] = QueueLoad{10, 0.0};
  engine_.loads[{"i1", 0}] = QueueLoad{10, 0.0};
  engine_.loads[{"i3", 0}] = QueueLoad{10, 0.0};
  engine_.loads[{"i3", 1}] = QueueLoad{10, 0.0};

  Connect("x3", "n1", "n2");
  now = Now();
  EXPECT_EQ(now.at({"n1", 0}).core, 1u) << "core 0 carries 80 %";
  EXPECT_EQ(now.at({"n2", 0}).core, 1u);
  EXPECT_EQ(now.at({"h1", 0}).core, 0u) << "nothing moves";

  const vhostd::v1::ListCoresResponse cores = manager_->ListCores();
  bool saw_hot = false;
  for (const auto& core : cores.cores()) {
    for (const auto& q : core.queues()) {
      if (q.port() == "h1") {
        saw_hot = true;
        EXPECT_EQ(q.busy_cycles(), 9000u);
        ASSERT_TRUE(q.has_share_percent());
        EXPECT_DOUBLE_EQ(q.share_percent(), 80.0);
      }
      if (q.port() == "n1") EXPECT_FALSE(q.has_share_percent()) << "not measured yet";
    }
  }
  EXPECT_TRUE(saw_hot);
}

}  // namespace
}  // namespace vhostd
