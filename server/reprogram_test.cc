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

}  // namespace
}  // namespace vhostd
