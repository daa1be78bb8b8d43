// Engine::Apply with two real polling cores: programs move queues between the cores
// while they poll, and fake ports check that no queue is ever entered by two cores at
// once, that counters never go back and that no packet is lost.
//
// Also worth running under ThreadSanitizer (Debian's gcc has it; DPDK and Abseil are
// not instrumented, see tsan_suppressions.txt), in an output base of its own:
//   bazel --output_base=/tmp/vhostd-tsan test --copt=-fsanitize=thread \
//     --linkopt=-fsanitize=thread --test_env=TSAN_OPTIONS=suppressions=$PWD/dataplane/tsan_suppressions.txt \
//     //dataplane:engine_test //dataplane:poll_core_test
#include "dataplane/engine.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "dataplane/bridge.h"
#include "dataplane/bridge_plan.h"
#include "dataplane/test_eal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

constexpr uint16_t kMaxFakeQueues = 8;

// One queue of a fake port: who is inside a burst call on it, and whether anyone
// entered while another core was inside.
struct FakeQueue {
  std::atomic<int> inside{-1};         // lcore in a burst call, -1 if none
  std::atomic<uint64_t> overlaps{0};   // entries while another lcore was inside
  std::atomic<uint64_t> lcores{0};     // bit per lcore that ever entered
  std::atomic<bool> hold{false};       // keeps a core inside (a stuck core)
  std::atomic<bool> held{false};       // a core is inside a held call

  void Enter() {
    const int me = static_cast<int>(rte_lcore_id());
    int nobody = -1;
    if (!inside.compare_exchange_strong(nobody, me)) overlaps.fetch_add(1);
    lcores.fetch_or(uint64_t{1} << me);
    // Stay about a microsecond, as a real burst does, so that an overlap shows.
    const uint64_t until = rte_rdtsc() + rte_get_tsc_hz() / 1000000;
    while (rte_rdtsc() < until) rte_pause();
    while (hold.load()) {
      held.store(true);
      rte_pause();
    }
    held.store(false);
  }
  void Leave() {
    int me = static_cast<int>(rte_lcore_id());
    inside.compare_exchange_strong(me, -1);
  }
};

// A port whose receive queues always have a few packets and whose transmit queues
// take everything (and free it).
struct FakePort {
  FakePort(std::string name, uint16_t queues, rte_mempool* pool) : name(std::move(name)), queues(queues), pool(pool) {}

  static uint16_t Rx(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakePort*>(context);
    FakeQueue& q = port->rx[queue];
    q.Enter();
    const uint16_t n = port->empty ? 0 : std::min<uint16_t>(count, 4);
    const bool got = n != 0 && rte_pktmbuf_alloc_bulk(port->pool, pkts, n) == 0;
    for (uint16_t i = 0; got && i < n; ++i) {
      char* data = rte_pktmbuf_append(pkts[i], 60);
      if (port->broadcast) memset(data, 0xff, 60);  // to ff:ff:ff:ff:ff:ff, from a group address
    }
    q.Leave();
    return got ? n : 0;
  }
  static uint16_t Tx(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<FakePort*>(context);
    FakeQueue& q = port->tx[queue];
    q.Enter();
    rte_pktmbuf_free_bulk(pkts, count);
    q.Leave();
    return count;
  }

  PortRef Ref() { return PortRef{name, PortIo{&Rx, &Tx, this}, queues, counters}; }
  BridgeMember Member() {
    BridgeMember m;
    m.name = name;
    m.io = PortIo{&Rx, &Tx, this};
    m.queues = queues;
    m.counters = counters;
    m.stats = NewBridgePortCounters();
    return m;
  }
  uint64_t Overlaps() const {
    uint64_t n = 0;
    for (const FakeQueue& q : rx) n += q.overlaps.load();
    for (const FakeQueue& q : tx) n += q.overlaps.load();
    return n;
  }

  const std::string name;
  const uint16_t queues;
  rte_mempool* const pool;
  bool empty = false;  // receive nothing (set before any core polls)
  bool broadcast = false;  // frames are broadcasts a bridge floods (likewise)
  FakeQueue rx[kMaxFakeQueues];
  FakeQueue tx[kMaxFakeQueues];
  QueueCounters counters[kMaxFakeQueues];
};

// Reads every counter of `ports` in a loop on its own thread and counts any that went
// back (two cores incrementing one single-writer counter can lose an update).
class CounterWatch {
 public:
  explicit CounterWatch(std::vector<FakePort*> ports) : ports_(std::move(ports)), thread_([this] { Run(); }) {}
  ~CounterWatch() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  uint64_t decreases() const { return decreases_.load(); }
  uint64_t reads() const { return reads_.load(); }

 private:
  void Run() {
    std::vector<uint64_t> last;
    while (!stop_.load()) {
      std::vector<uint64_t> now;
      for (FakePort* port : ports_) {
        for (const QueueCounters& c : port->counters) {
          for (const auto* field : {&c.rx_packets, &c.rx_bytes, &c.tx_packets, &c.tx_bytes, &c.tx_dropped}) {
            now.push_back(CounterRead(*field));
          }
        }
      }
      for (size_t i = 0; i < last.size(); ++i) decreases_.fetch_add(now[i] < last[i]);
      last = std::move(now);
      reads_.fetch_add(1);
      absl::SleepFor(absl::Microseconds(50));
    }
  }

  std::vector<FakePort*> ports_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> decreases_{0};
  std::atomic<uint64_t> reads_{0};
  std::thread thread_;
};

template <typename Done>
bool Eventually(Done done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Microseconds(100));
  }
  return true;
}

uint64_t Total(const FakePort& port, std::atomic<uint64_t> QueueCounters::*field) {
  uint64_t n = 0;
  for (const QueueCounters& c : port.counters) n += CounterRead(c.*field);
  return n;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitTestEal(2);
    static rte_mempool* pool = MakeTestPool("engine_test", 4096);
    pool_ = pool;
    std::vector<std::unique_ptr<PollCore>> cores;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) { cores.push_back(std::make_unique<PollCore>(lcore)); }
    ASSERT_EQ(cores.size(), 2u) << "the test EAL has two worker lcores";
    lcores_ = {cores[0]->lcore(), cores[1]->lcore()};
    engine_ = Engine::WithCores(std::move(cores));
    ASSERT_NE(engine_, nullptr);
  }
  void TearDown() override { engine_.reset(); }

  uint64_t Bit(size_t core) const { return uint64_t{1} << lcores_[core]; }

  rte_mempool* pool_ = nullptr;
  std::vector<unsigned> lcores_;
  std::unique_ptr<Engine> engine_;
};

// Programs that put every unit on a random core (or leave it out, now and then), made
// by the planner from a random "current" assignment, so units stay whole.
std::vector<CoreProgram> RandomPlan(const std::vector<ForwardingUnit>& all, std::mt19937& random) {
  std::vector<ForwardingUnit> units;
  CurrentAssignment wanted;
  for (const ForwardingUnit& unit : all) {
    if (random() % 8 == 0) continue;
    const size_t core = random() % 2;
    for (const PollLabel& label : unit.labels) wanted[{label.rx_port, label.rx_queue}] = {core};
    units.push_back(unit);
  }
  return AssignToCores(units, 2, wanted);
}

// The hammer: 1,500 plans, each moving queues between two running cores.
TEST_F(EngineTest, MovingQueuesWhileCoresPollNeverLetsTwoCoresIntoOneQueue) {
  FakePort p("p", 4, pool_), q("q", 3, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  CounterWatch watch({&p, &q});
  std::mt19937 random(42);
  for (int i = 0; i < 1500; ++i) {
    const absl::Status applied = engine_->Apply(RandomPlan(units, random));
    ASSERT_TRUE(applied.ok()) << "plan " << i << ": " << applied;
  }
  ASSERT_TRUE(engine_->Apply({}).ok());
  watch.Stop();

  EXPECT_EQ(p.Overlaps() + q.Overlaps(), 0u) << "a queue was entered by two cores at once";
  EXPECT_EQ(watch.decreases(), 0u) << "a counter went back";
  EXPECT_GT(watch.reads(), 10u);
  // The test moved every receive queue between the cores while they ran.
  for (FakePort* port : {&p, &q}) {
    for (uint16_t i = 0; i < port->queues; ++i) {
      EXPECT_EQ(port->rx[i].lcores.load(), Bit(0) | Bit(1)) << port->name << " rx " << i;
    }
  }
  // Every packet received was sent: nothing was lost in a move.
  const uint64_t received = Total(p, &QueueCounters::rx_packets) + Total(q, &QueueCounters::rx_packets);
  EXPECT_GT(received, 0u);
  EXPECT_EQ(Total(p, &QueueCounters::tx_packets) + Total(q, &QueueCounters::tx_packets), received);
  EXPECT_EQ(Total(p, &QueueCounters::tx_dropped) + Total(q, &QueueCounters::tx_dropped), 0u);
}

// The hammer again with a one-queue port: q's tx queue goes from one writing core to
// two sharing it under its lock and back, plan after plan. Still no overlap, no
// counter going back, no packet lost.
TEST_F(EngineTest, MovingQueuesBetweenOwnAndSharedTxQueuesNeverOverlaps) {
  FakePort p("p", 3, pool_), q("q", 1, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  CounterWatch watch({&p, &q});
  std::mt19937 random(5);
  size_t shared_plans = 0;
  for (int i = 0; i < 1000; ++i) {
    std::vector<CoreProgram> plan = RandomPlan(units, random);
    for (const CoreProgram& program : plan) {
      for (const PollEntry& e : program.entries) shared_plans += e.tx_shared;
    }
    const absl::Status applied = engine_->Apply(std::move(plan));
    ASSERT_TRUE(applied.ok()) << "plan " << i << ": " << applied;
  }
  ASSERT_TRUE(engine_->Apply({}).ok());
  watch.Stop();
  EXPECT_GT(shared_plans, 100u) << "q's tx queue was shared in many plans";
  EXPECT_EQ(p.Overlaps() + q.Overlaps(), 0u) << "a queue was entered by two cores at once";
  EXPECT_EQ(watch.decreases(), 0u) << "a counter went back";
  EXPECT_EQ(q.tx[0].lcores.load(), Bit(0) | Bit(1));
  const uint64_t received = Total(p, &QueueCounters::rx_packets) + Total(q, &QueueCounters::rx_packets);
  EXPECT_GT(received, 0u);
  EXPECT_EQ(Total(p, &QueueCounters::tx_packets) + Total(q, &QueueCounters::tx_packets), received);
  EXPECT_EQ(Total(p, &QueueCounters::tx_dropped) + Total(q, &QueueCounters::tx_dropped), 0u);
}

// The metrics thread reads Cores() while the control thread applies: every snapshot
// is whole (labels of the programs as given) and, because of the two phases, lists
// each receive queue at most once.
TEST_F(EngineTest, CoresCanBeReadOnAnotherThreadWhileApplyChangesPrograms) {
  // Long names and many queues: labels on the heap, and copies that take a while.
  const std::string p_name(40, 'p'), q_name(40, 'q');
  FakePort p(p_name, kMaxFakeQueues, pool_), q(q_name, kMaxFakeQueues - 1, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, bad{0}, twice{0};
  std::thread reader([&] {
    while (!stop.load()) {
      std::set<RxQueueKey> seen;
      for (const CoreInfo& core : engine_->Cores()) {
        for (const PollLabel& label : core.queues) {
          const bool known = (label.rx_port == p_name && label.rx_queue < p.queues && label.tx_port == q_name) ||
                             (label.rx_port == q_name && label.rx_queue < q.queues && label.tx_port == p_name);
          bad.fetch_add(!known);
          twice.fetch_add(!seen.insert({label.rx_port, label.rx_queue}).second);
        }
      }
      reads.fetch_add(1);
      std::this_thread::yield();
    }
  });
  std::mt19937 random(7);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(engine_->Apply(RandomPlan(units, random)).ok()) << "plan " << i;
  ASSERT_TRUE(engine_->Apply({}).ok());
  stop.store(true);
  reader.join();
  EXPECT_EQ(bad.load(), 0u) << "a label read while Apply replaced it was torn";
  EXPECT_EQ(twice.load(), 0u) << "a snapshot showed a queue on two cores";
  EXPECT_GT(reads.load(), 100u);
}

// What the hammer guards against, shown with the cores themselves: a queue handed to
// its new core before the old core let go (one phase, core by core) is entered by
// both. So the fake queues do detect it.
TEST_F(EngineTest, HandingAQueueOverBeforeTheOldCoreLetsGoIsCaught) {
  FakePort p("p", 1, pool_), q("q", 1, pool_);
  std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  std::vector<std::unique_ptr<PollCore>> cores;
  for (unsigned lcore : lcores_) cores.push_back(std::make_unique<PollCore>(lcore));
  engine_.reset();  // frees the lcores
  for (auto& core : cores) ASSERT_TRUE(core->Launch());
  CoreProgram p_to_q{units[0].entries, units[0].labels};
  ASSERT_TRUE(cores[0]->Publish(std::make_unique<CoreProgram>(p_to_q), absl::Seconds(2)));
  ASSERT_TRUE(cores[1]->Publish(std::make_unique<CoreProgram>(p_to_q), absl::Seconds(2)));
  EXPECT_TRUE(Eventually([&] { return p.Overlaps() > 0; })) << "two cores poll p's queue 0";
  for (auto& core : cores) core->Stop();
}

// Two cores sending to one tx queue: they take its lock, so the fake queue is never
// entered by both at once, the counters (added atomically) lose nothing, and every
// packet received is sent. The same two entries without the lock, published to the
// cores directly, do overlap: the fake queue would see it.
TEST_F(EngineTest, CoresSharingATxQueueSendUnderItsLock) {
  FakePort p("p", 2, pool_), q("q", 1, pool_);
  q.empty = true;  // only p -> q moves packets
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  AssignOptions options;
  options.pins = {{{"p", 0}, 0}, {{"p", 1}, 1}};
  options.isolate_pinned = false;
  const std::vector<CoreProgram> programs = AssignToCores(units, 2, {}, options);
  for (size_t core = 0; core < 2; ++core) {
    ASSERT_FALSE(programs[core].entries.empty());
    EXPECT_TRUE(programs[core].entries[0].tx_shared) << "core " << core;
  }
  CounterWatch watch({&p, &q});
  ASSERT_TRUE(engine_->Apply(programs).ok());
  EXPECT_TRUE(Eventually([&] { return q.tx[0].lcores.load() == (Bit(0) | Bit(1)); }));
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(engine_->Apply({}).ok());
  watch.Stop();
  EXPECT_EQ(q.tx[0].overlaps.load(), 0u) << "two cores inside q's tx queue at once";
  EXPECT_EQ(watch.decreases(), 0u);
  const uint64_t received = Total(p, &QueueCounters::rx_packets);
  EXPECT_GT(received, 1000u);
  EXPECT_EQ(CounterRead(q.counters[0].tx_packets), received) << "no count lost between the two writers";

  // Without the lock (and past the engine's check), the overlap shows.
  std::vector<std::unique_ptr<PollCore>> cores;
  for (unsigned lcore : lcores_) cores.push_back(std::make_unique<PollCore>(lcore));
  engine_.reset();  // frees the lcores
  for (auto& core : cores) ASSERT_TRUE(core->Launch());
  for (size_t core = 0; core < 2; ++core) {
    CoreProgram unlocked = programs[core];
    unlocked.entries[0].tx_shared = false;
    ASSERT_TRUE(cores[core]->Publish(std::make_unique<CoreProgram>(unlocked), absl::Seconds(2)));
  }
  EXPECT_TRUE(Eventually([&] { return q.tx[0].overlaps.load() > 0; })) << "two cores in q's tx queue";
  for (auto& core : cores) core->Stop();
}

// A second core starting to send to a port changes the tx queue (and lock) of the
// entries already sending there, on their own core: they go through both phases, but
// keep their state, so their busy cycles stay monotonic.
TEST_F(EngineTest, EntriesWhoseTxQueueChangesKeepTheirState) {
  FakePort p("p", 2, pool_), q("q", 1, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  AssignOptions together;
  together.pins = {{{"p", 0}, 0}, {{"p", 1}, 0}};
  together.isolate_pinned = false;
  const std::vector<CoreProgram> one_core = AssignToCores(units, 2, {}, together);
  ASSERT_EQ(one_core[0].labels[0].rx_port, "p");
  ASSERT_FALSE(one_core[0].entries[0].tx_shared);
  ASSERT_TRUE(engine_->Apply(one_core).ok());
  const std::shared_ptr<EntryState> state = engine_->core(0).installed().states.at(0);
  ASSERT_TRUE(Eventually([&] { return CounterRead(state->busy_cycles) > 0; }));

  AssignOptions apart = together;
  apart.pins[{"p", 1}] = 1;
  const std::vector<CoreProgram> two_cores = AssignToCores(units, 2, {}, apart);
  ASSERT_EQ(two_cores[0].labels[0].rx_port, "p");
  ASSERT_EQ(two_cores[0].labels[0].rx_queue, one_core[0].labels[0].rx_queue);
  ASSERT_TRUE(two_cores[0].entries[0].tx_shared) << "p's queue 0 now shares q's tx queue";
  ASSERT_TRUE(engine_->Apply(two_cores).ok());
  EXPECT_EQ(engine_->core(0).installed().states.at(0), state) << "the entry kept its state";
}

// A bridge of three one-queue ports over two cores: every core floods to every port,
// so the cores share each port's one tx queue, under its lock. No overlap, no count
// lost: each broadcast reaches the two other ports.
TEST_F(EngineTest, BridgePortsOnTwoCoresShareTxQueuesUnderTheLock) {
  FakePort a("a", 1, pool_), b("b", 1, pool_), c("c", 1, pool_);
  BridgeView view;
  view.name = "br";
  view.macs = std::make_shared<MacTable>(64, 300000);
  for (FakePort* port : {&a, &b, &c}) {
    port->broadcast = true;
    view.members.push_back(port->Member());
  }
  const std::vector<CoreProgram> programs = AssignToCores(BridgeUnits(view), 2);
  ASSERT_FALSE(programs[0].entries.empty() || programs[1].entries.empty()) << "the bridge uses both cores";
  CounterWatch watch({&a, &b, &c});
  ASSERT_TRUE(engine_->Apply(programs).ok());
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(engine_->Apply({}).ok());
  watch.Stop();
  EXPECT_EQ(a.Overlaps() + b.Overlaps() + c.Overlaps(), 0u) << "two cores inside one queue at once";
  EXPECT_EQ(watch.decreases(), 0u);
  uint64_t received = 0, sent = 0, shared_writers = 0;
  for (FakePort* port : {&a, &b, &c}) {
    received += Total(*port, &QueueCounters::rx_packets);
    sent += Total(*port, &QueueCounters::tx_packets);
    EXPECT_EQ(Total(*port, &QueueCounters::tx_dropped), 0u);
    shared_writers += __builtin_popcountll(port->tx[0].lcores.load()) > 1;
  }
  EXPECT_GT(received, 1000u);
  EXPECT_EQ(sent, 2 * received) << "every broadcast to both other ports, no count lost";
  EXPECT_GT(shared_writers, 0u) << "some port was written from both cores";
}

// A stuck core (inside a burst) misses phase 1: phase 2 does not run, so the queue
// it may still poll is never given to the other core, and nothing it may still run is
// freed; once it comes back, the move completes and the entry keeps its state.
TEST_F(EngineTest, ACoreThatMissesPhaseOneKeepsTheQueueAndEverythingItMayRun) {
  FakePort p("p", 1, pool_), q("q", 1, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  const ForwardingUnit& p_to_q = units[0];
  ASSERT_TRUE(engine_->Apply({CoreProgram{p_to_q.entries, p_to_q.labels}, {}}).ok());
  const std::weak_ptr<EntryState> state = engine_->core(0).installed().states.at(0);
  p.rx[0].hold.store(true);
  ASSERT_TRUE(Eventually([&] { return p.rx[0].held.load(); }));

  const std::vector<CoreProgram> moved = {{}, CoreProgram{p_to_q.entries, p_to_q.labels}};
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const absl::Status s = engine_->Apply(moved);
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("lcore ", lcores_[0], " did not let go")));
    EXPECT_EQ(engine_->core(0).retired_programs(), static_cast<size_t>(attempt)) << "attempt " << attempt;
    EXPECT_FALSE(state.expired()) << "the stuck core may still run the entry";
    EXPECT_TRUE(engine_->core(1).program().entries.empty()) << "phase 2 must not run";
  }
  EXPECT_EQ(p.rx[0].lcores.load(), Bit(0)) << "the other core never polled the queue";

  p.rx[0].hold.store(false);
  ASSERT_TRUE(engine_->Apply(moved).ok());
  EXPECT_EQ(engine_->core(0).retired_programs(), 0u);
  EXPECT_TRUE(Eventually([&] { return (p.rx[0].lcores.load() & Bit(1)) != 0; }));
  ASSERT_EQ(engine_->core(1).installed().states.size(), 1u);
  EXPECT_EQ(engine_->core(1).installed().states[0], state.lock()) << "the entry's state moved with it";
  EXPECT_EQ(p.Overlaps() + q.Overlaps(), 0u);
}

TEST_F(EngineTest, ProgramsThatShareAQueueAreRefusedAndChangeNothing) {
  FakePort p("p", 2, pool_), q("q", 1, pool_);
  const std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  ASSERT_EQ(units.size(), 3u) << "p's two queues, then q's one";
  ASSERT_TRUE(engine_->Apply({CoreProgram{units[2].entries, units[2].labels}, {}}).ok());

  // p's queue 0 on core 0 and p's queue 1 on core 1 both write q's tx queue 0, and
  // neither takes its lock (not placed by AssignToCores).
  CoreProgram first{{units[0].entries[0]}, {units[0].labels[0]}};
  CoreProgram second{{units[1].entries[0]}, {units[1].labels[0]}};
  absl::Status s = engine_->Apply({first, second});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("tx queue 0 of q is written from cores 0 and 1 without its lock"));
  second.entries[0].tx_shared = true;
  s = engine_->Apply({first, second});
  EXPECT_THAT(s.message(), HasSubstr("without its lock")) << "one writer without the lock is one too many";

  s = engine_->Apply({first, first});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rx queue 0 of p is polled twice"));

  s = engine_->Apply({{}, {}, {}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("3 programs for 2 cores"));

  ASSERT_EQ(engine_->core(0).program().entries.size(), 1u) << "nothing changed";
  EXPECT_EQ(engine_->core(0).program().labels[0].rx_port, "q");
  EXPECT_TRUE(engine_->core(1).program().entries.empty());
}

// An entry that stays where it is keeps its state, and a core whose program does not
// change is not asked to reload.
TEST_F(EngineTest, EntriesThatStayKeepTheirState) {
  FakePort p("p", 1, pool_), q("q", 1, pool_), r("r", 1, pool_), s("s", 1, pool_);
  std::vector<ForwardingUnit> units = CrossConnectUnits(p.Ref(), q.Ref());
  const CoreProgram pq{units[0].entries, units[0].labels};
  ASSERT_TRUE(engine_->Apply({pq, {}}).ok());
  const InstalledProgram* before = &engine_->core(0).installed();
  const std::shared_ptr<EntryState> state = before->states[0];

  std::vector<ForwardingUnit> more = CrossConnectUnits(r.Ref(), s.Ref());
  ASSERT_TRUE(engine_->Apply({pq, CoreProgram{more[0].entries, more[0].labels}}).ok());
  EXPECT_EQ(&engine_->core(0).installed(), before) << "core 0's program did not change: no reload";

  CoreProgram grown = pq;
  grown.entries.push_back(units[1].entries[0]);
  grown.labels.push_back(units[1].labels[0]);
  ASSERT_TRUE(engine_->Apply({grown, CoreProgram{more[0].entries, more[0].labels}}).ok());
  ASSERT_EQ(engine_->core(0).installed().states.size(), 2u);
  EXPECT_EQ(engine_->core(0).installed().states[0], state);
  EXPECT_NE(engine_->core(0).installed().states[1], state);
}

// Busy cycles per queue: the busy queue is charged, the empty one not; its share of
// the core is measured once the window has history, and its counter keeps counting
// when it moves to the other core.
TEST_F(EngineTest, BusyCyclesAndSharesAreMeasuredPerQueue) {
  engine_->SetLoadWindow(absl::Milliseconds(20), absl::Milliseconds(500));
  FakePort busy("busy", 1, pool_), idle("idle", 1, pool_);
  idle.empty = true;
  const std::vector<ForwardingUnit> units = CrossConnectUnits(busy.Ref(), idle.Ref());
  const CoreProgram busy_to_idle{units[0].entries, units[0].labels}, idle_to_busy{units[1].entries, units[1].labels};
  CoreProgram both = busy_to_idle;
  both.entries.push_back(idle_to_busy.entries[0]);
  both.labels.push_back(idle_to_busy.labels[0]);
  ASSERT_TRUE(engine_->Apply({both, {}}).ok());
  engine_->Cores();  // the first reading: the window's base
  absl::SleepFor(absl::Milliseconds(100));
  std::vector<CoreInfo> cores = engine_->Cores();
  ASSERT_EQ(cores[0].loads.size(), 2u);
  const QueueLoad& hot = cores[0].loads[0];
  const QueueLoad& cold = cores[0].loads[1];
  EXPECT_GT(hot.busy_cycles, 0u);
  EXPECT_EQ(cold.busy_cycles, 0u) << "an empty queue is never charged";
  ASSERT_TRUE(hot.share.has_value());
  ASSERT_TRUE(cold.share.has_value());
  EXPECT_GT(*hot.share, 0.5) << "it receives on every poll";
  EXPECT_EQ(*cold.share, 0.0);
  EXPECT_LE(hot.busy_cycles, cores[0].busy_cycles) << "a queue's cycles are part of its core's busy time";

  // The busy queue moves to core 1: its counter goes on from where it was, and its
  // share there is unknown until the window has history on core 1.
  const uint64_t before = hot.busy_cycles;
  ASSERT_TRUE(engine_->Apply({idle_to_busy, busy_to_idle}).ok());
  cores = engine_->Cores();
  ASSERT_EQ(cores[1].loads.size(), 1u);
  EXPECT_GE(cores[1].loads[0].busy_cycles, before);
  EXPECT_FALSE(cores[1].loads[0].share.has_value());
  absl::SleepFor(absl::Milliseconds(50));
  cores = engine_->Cores();
  EXPECT_GT(cores[1].loads[0].busy_cycles, before);
  ASSERT_TRUE(cores[1].loads[0].share.has_value());
  EXPECT_GT(*cores[1].loads[0].share, 0.5);
}

}  // namespace
}  // namespace vhostd
