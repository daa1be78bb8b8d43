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

// --- Pins, rebalancing and settings (core_placement.cc) ---

vhostd::v1::QueuePin Pin(const std::string& port, uint32_t queue, uint32_t lcore) {
  vhostd::v1::QueuePin pin;
  pin.set_port(port);
  pin.set_queue(queue);
  pin.set_lcore(lcore);
  return pin;
}

std::string ReadFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  fclose(f);
  return text;
}

// The fake engine's lcores are 1 and 2 (cores 0 and 1).
TEST_F(ReprogramTest, APinMovesTheQueueIsolatesItsCoreAndIsKeptInTheStateFile) {
  CreatePort("a", 2);
  CreatePort("b", 2);
  Connect("x", "a", "b");
  ASSERT_EQ(Now().at({"a", 0}).core, 0u);
  absl::StatusOr<vhostd::v1::QueuePin> pinned = manager_->PinQueue(Pin("a", 0, 2));
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  CurrentAssignment now = Now();
  EXPECT_EQ(now.at({"a", 0}).core, 1u);
  for (const auto& [queue, placed] : now) {
    if (queue != RxQueueKey{"a", 0}) EXPECT_EQ(placed.core, 0u) << queue.first << queue.second << ": isolated core";
  }
  const vhostd::v1::ListCoresResponse cores = manager_->ListCores();
  ASSERT_EQ(cores.pins_size(), 1);
  EXPECT_FALSE(cores.cores(0).isolated());
  EXPECT_TRUE(cores.cores(1).isolated());
  EXPECT_TRUE(cores.cores(1).queues(0).pinned());
  EXPECT_NE(ReadFile(store_->journal_path()).find("put_pin"), std::string::npos);

  // A new manager on the same state has the pin (and places the queue by it).
  manager_.reset();
  manager_ = std::make_unique<PortManager>(registry_.get(), &engine_, store_.get(), PluginContext{});
  ASSERT_TRUE(manager_->Restore().ok());
  ASSERT_EQ(manager_->ListCores().pins_size(), 1);
  EXPECT_EQ(Now().at({"a", 0}).core, 1u);
  ASSERT_TRUE(manager_->UnpinQueue([] {
    vhostd::v1::UnpinQueueRequest r;
    r.set_port("a");
    return r;
  }()).ok());
  EXPECT_EQ(manager_->ListCores().pins_size(), 0);
}

TEST_F(ReprogramTest, BadPinsAreRefusedNamingTheFieldAndChangeNothing) {
  CreatePort("a", 2);
  CreatePort("b", 1);
  Connect("x", "a", "b");
  const std::string journal = ReadFile(store_->journal_path());
  const size_t applies = engine_.applied.size();
  struct Case {
    vhostd::v1::QueuePin pin;
    absl::StatusCode code;
    const char* prefix;
  };
  const Case cases[] = {
      {Pin("nope", 0, 1), absl::StatusCode::kNotFound, "pin.port: "},
      {Pin("", 0, 1), absl::StatusCode::kInvalidArgument, "pin.port"},
      {Pin("a", 2, 1), absl::StatusCode::kInvalidArgument, "pin.queue: port a has 2 queues"},
      {Pin("a", 0, 3), absl::StatusCode::kInvalidArgument, "pin.lcore: 3 is not a polling lcore (they are 1, 2)"},
      {Pin("a", 0, 0), absl::StatusCode::kInvalidArgument, "pin.lcore: 0 is not a polling lcore"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<vhostd::v1::QueuePin> result = manager_->PinQueue(c.pin);
    ASSERT_FALSE(result.ok()) << c.prefix;
    EXPECT_EQ(result.status().code(), c.code) << result.status();
    EXPECT_EQ(result.status().message().rfind(c.prefix, 0), 0u) << result.status();
  }
  EXPECT_EQ(engine_.applied.size(), applies) << "nothing applied";
  EXPECT_EQ(ReadFile(store_->journal_path()), journal) << "nothing saved";
  EXPECT_EQ(manager_->ListCores().pins_size(), 0);

  // a's two rx queues both send to b, which has one tx queue: pinned to two cores,
  // they share it, both under its lock.
  ASSERT_TRUE(manager_->PinQueue(Pin("a", 0, 1)).ok());
  ASSERT_TRUE(manager_->PinQueue(Pin("a", 1, 2)).ok());
  EXPECT_EQ(manager_->ListCores().pins_size(), 2);
  const std::vector<CoreProgram>& plan = engine_.applied.back();
  int shared = 0;
  for (size_t core = 0; core < plan.size(); ++core) {
    for (size_t i = 0; i < plan[core].entries.size(); ++i) {
      if (plan[core].labels[i].rx_port != "a") continue;
      EXPECT_EQ(core, plan[core].labels[i].rx_queue) << "a's queue " << plan[core].labels[i].rx_queue;
      EXPECT_EQ(plan[core].entries[i].tx_queue, 0);
      shared += plan[core].entries[i].tx_shared;
    }
  }
  EXPECT_EQ(shared, 2) << "two cores write b's tx queue 0, both under its lock";

  vhostd::v1::UnpinQueueRequest unpin;
  unpin.set_port("b");
  EXPECT_EQ(manager_->UnpinQueue(unpin).code(), absl::StatusCode::kNotFound);
  unpin.set_allow_missing(true);
  EXPECT_TRUE(manager_->UnpinQueue(unpin).ok());
}

TEST_F(ReprogramTest, DeletingAPortDropsItsPins) {
  CreatePort("a", 1);
  CreatePort("b", 1);
  Connect("x", "a", "b");
  ASSERT_TRUE(manager_->PinQueue(Pin("a", 0, 2)).ok());
  ASSERT_TRUE(manager_->DeleteCrossConnect("x", false).ok());
  ASSERT_TRUE(manager_->DeletePort("a", false).ok());
  EXPECT_EQ(manager_->ListCores().pins_size(), 0);
  CreatePort("a", 1);  // a new port of that name starts unpinned, also after a restart
  manager_.reset();
  manager_ = std::make_unique<PortManager>(registry_.get(), &engine_, store_.get(), PluginContext{});
  ASSERT_TRUE(manager_->Restore().ok());
  EXPECT_EQ(manager_->ListCores().pins_size(), 0);
}

// Everything starts on core 0 (stable assignment keeps it there); a rebalance spreads
// it. The dry run says what the real one then does, and changes nothing.
TEST_F(ReprogramTest, RebalanceDryRunShowsTheMovesTheRebalanceMakes) {
  vhostd::v1::CoreSettings settings = DefaultCoreSettings();
  settings.set_assign_mode(vhostd::v1::ASSIGN_MODE_ROUNDROBIN);
  manager_->SetCoreDefaults(settings);
  CreatePort("a", 4);
  CreatePort("b", 4);
  ASSERT_TRUE(manager_->PinQueue(Pin("a", 0, 1)).ok());
  ASSERT_TRUE(manager_->PinQueue(Pin("b", 0, 1)).ok());
  Connect("x", "a", "b");  // every queue but the pinned on core 1, the isolated core 0 has a0, b0
  vhostd::v1::UpdateCoreSettingsRequest no_isolation;
  no_isolation.set_isolate_pinned(false);
  ASSERT_TRUE(manager_->UpdateCoreSettings(no_isolation).ok());
  const CurrentAssignment before = Now();
  const size_t applies = engine_.applied.size();

  absl::StatusOr<vhostd::v1::RebalanceCoresResponse> dry = manager_->RebalanceCores(true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_FALSE(dry->applied());
  EXPECT_EQ(engine_.applied.size(), applies);
  ASSERT_GT(dry->moves_size(), 0);
  for (const auto& move : dry->moves()) {
    EXPECT_NE(move.port() + std::to_string(move.queue()), "a0") << "pinned";
    EXPECT_EQ(move.from_lcore(), before.at({move.port(), static_cast<uint16_t>(move.queue())}).core + 1);
  }

  absl::StatusOr<vhostd::v1::RebalanceCoresResponse> done = manager_->RebalanceCores(false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->applied());
  ASSERT_EQ(done->moves_size(), dry->moves_size());
  const CurrentAssignment after = Now();
  for (const auto& move : done->moves()) {
    EXPECT_EQ(after.at({move.port(), static_cast<uint16_t>(move.queue())}).core + 1, move.to_lcore());
  }
  size_t on_core[2] = {0, 0};
  for (const auto& [queue, placed] : after) ++on_core[placed.core];
  // Roundrobin deals the six unpinned queues 3 and 3, the two pinned stay on core 0.
  EXPECT_EQ(on_core[0], 5u);
  EXPECT_EQ(on_core[1], 3u);
  EXPECT_EQ(manager_->RebalanceCores(true)->moves_size(), 0) << "the same input gives the same plan";
}

TEST_F(ReprogramTest, CoreSettingsAreValidatedAndTheSleepBoundReachesTheEngine) {
  vhostd::v1::UpdateCoreSettingsRequest request;
  request.set_sleep_max_us(kMaxIdleSleepUs + 1);
  absl::StatusOr<vhostd::v1::CoreSettings> refused = manager_->UpdateCoreSettings(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("sleep_max_us: ", 0), 0u) << refused.status();
  request.Clear();
  request.set_assign_mode(static_cast<vhostd::v1::AssignMode>(42));
  refused = manager_->UpdateCoreSettings(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("assign_mode: ", 0), 0u) << refused.status();
  EXPECT_EQ(engine_.sleep_max_us, 0u);
  EXPECT_EQ(manager_->GetCoreSettings().assign_mode(), vhostd::v1::ASSIGN_MODE_CYCLES);

  request.Clear();
  request.set_sleep_max_us(250);
  request.set_assign_mode(vhostd::v1::ASSIGN_MODE_GROUP);
  absl::StatusOr<vhostd::v1::CoreSettings> changed = manager_->UpdateCoreSettings(request);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->sleep_max_us(), 250u);
  EXPECT_EQ(changed->assign_mode(), vhostd::v1::ASSIGN_MODE_GROUP);
  EXPECT_TRUE(changed->isolate_pinned()) << "unset fields stay";
  EXPECT_EQ(engine_.sleep_max_us, 250u);
}

}  // namespace
}  // namespace vhostd
