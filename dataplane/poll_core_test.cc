// PollCore on a real EAL worker lcore: the program handshake, and what is kept alive
// while a core does not acknowledge.
#include "dataplane/poll_core.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_lcore.h>

#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "dataplane/test_eal.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

// One fake port: counts receive calls and, while `hold` is set, keeps the core inside
// the call (a core stuck in a burst).
struct FakeRx {
  std::atomic<uint64_t> calls{0};
  std::atomic<bool> hold{false};
  std::atomic<bool> held{false};  // the core is inside a held call
  QueueCounters counters;

  static uint16_t Rx(void* context, uint16_t /*queue*/, rte_mbuf** /*pkts*/, uint16_t /*count*/) {
    auto* self = static_cast<FakeRx*>(context);
    self->calls.fetch_add(1);
    while (self->hold.load()) {
      self->held.store(true);
      rte_pause();
    }
    self->held.store(false);
    return 0;
  }
};

// A program that polls `rx` (receive only: it never returns packets, so no transmit).
std::unique_ptr<CoreProgram> Polling(FakeRx& rx) {
  auto program = std::make_unique<CoreProgram>();
  const PortIo io{&FakeRx::Rx, nullptr, &rx};
  program->entries.push_back(PollEntry{io, 0, io, 0, &rx.counters, &rx.counters});
  program->labels.push_back(PollLabel{"rx", 0, "rx", 0});
  return program;
}

// Waits until `done` holds, for at most two seconds.
template <typename Done>
bool Eventually(Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Microseconds(100));
  }
  return true;
}

constexpr absl::Duration kAckTimeout = absl::Seconds(2);
constexpr absl::Duration kShortTimeout = absl::Milliseconds(50);

class PollCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitTestEal(1);
    lcore_ = rte_get_next_lcore(-1, 1, 0);
    ASSERT_LT(lcore_, RTE_MAX_LCORE) << "no worker lcore";
  }
  unsigned lcore_ = 0;
};

TEST_F(PollCoreTest, PublishSwitchesTheProgramOnceTheCoreAcknowledges) {
  PollCore core(lcore_);
  ASSERT_TRUE(core.Launch());
  FakeRx a, b;
  ASSERT_TRUE(core.Publish(Polling(a), kAckTimeout));
  EXPECT_TRUE(Eventually([&] { return a.calls.load() > 0; })) << "the core runs the new program";
  EXPECT_EQ(core.program().labels.size(), 1u);

  ASSERT_TRUE(core.Publish(Polling(b), kAckTimeout));
  // Acknowledged: the core has let go of a's program and never calls it again.
  const uint64_t a_calls = a.calls.load();
  EXPECT_TRUE(Eventually([&] { return b.calls.load() > 10; }));
  EXPECT_EQ(a.calls.load(), a_calls);
  EXPECT_EQ(core.retired_programs(), 0u);

  ASSERT_TRUE(core.Publish(std::make_unique<CoreProgram>(), kAckTimeout));
  EXPECT_TRUE(core.program().entries.empty());
  core.Stop();
}

TEST_F(PollCoreTest, ACoreThatIsNotRunningHasNothingToAcknowledge) {
  PollCore core(lcore_);
  FakeRx a;
  EXPECT_TRUE(core.Publish(Polling(a), absl::ZeroDuration()));
  EXPECT_EQ(core.retired_programs(), 0u);
  EXPECT_EQ(a.calls.load(), 0u);
}

TEST_F(PollCoreTest, EveryProgramAStuckCoreMayRunStaysAliveUntilALaterAcknowledgement) {
  PollCore core(lcore_);
  ASSERT_TRUE(core.Launch());
  FakeRx stuck, next1, next2, last;
  stuck.hold.store(true);
  ASSERT_TRUE(core.Publish(Polling(stuck), kAckTimeout));
  ASSERT_TRUE(Eventually([&] { return stuck.held.load(); })) << "the core is inside the held burst";

  // Two handshakes time out: the core still runs `stuck`'s program and may switch to
  // either newer one, so all of them stay alive.
  EXPECT_FALSE(core.Publish(Polling(next1), kShortTimeout));
  EXPECT_EQ(core.retired_programs(), 1u);
  EXPECT_FALSE(core.Publish(Polling(next2), kShortTimeout));
  EXPECT_EQ(core.retired_programs(), 2u) << "a second timeout must not free the program the core runs";
  EXPECT_EQ(next1.calls.load(), 0u);

  // The core comes back, runs the newest program; a later handshake succeeds and only
  // then are the older programs freed.
  stuck.hold.store(false);
  EXPECT_TRUE(Eventually([&] { return next2.calls.load() > 0; }));
  EXPECT_EQ(core.retired_programs(), 2u);
  ASSERT_TRUE(core.Publish(Polling(last), kAckTimeout));
  EXPECT_EQ(core.retired_programs(), 0u);
  EXPECT_TRUE(Eventually([&] { return last.calls.load() > 0; }));
  core.Stop();
}

// Idle sleep (OVS's pmd-sleep-max): a core whose polls come back empty sleeps, so it
// polls far less often and counts the slept cycles; bound 0 is busy polling again; a
// program switch is still acknowledged within the bound.
TEST_F(PollCoreTest, AnIdleCoreSleepsUpToTheBoundAndCountsIt) {
  PollCore core(lcore_);
  ASSERT_TRUE(core.Launch());
  FakeRx rx;
  ASSERT_TRUE(core.Publish(Polling(rx), kAckTimeout));
  FakeRx other;
  const FakeRx* polled = &rx;
  auto polls_in = [&](absl::Duration d) {
    const uint64_t start = polled->calls.load();
    absl::SleepFor(d);
    return polled->calls.load() - start;
  };
  const uint64_t busy_polls = polls_in(absl::Milliseconds(200));
  EXPECT_EQ(CounterRead(core.counters().sleep_cycles), 0u);

  core.SetSleepMax(1000);  // 1 ms
  absl::SleepFor(absl::Milliseconds(100));  // the sleep grows 1 µs per quiet iteration
  const uint64_t sleeping_polls = polls_in(absl::Milliseconds(200));
  // At most one poll per ms once at the bound (~200), some more while it ramps up;
  // busy polling makes millions.
  EXPECT_LT(sleeping_polls, 2000u) << "busy: " << busy_polls;
  EXPECT_GT(sleeping_polls, 10u);
  EXPECT_GT(busy_polls, 20 * sleeping_polls);
  const uint64_t slept = CounterRead(core.counters().sleep_cycles);
  EXPECT_GT(slept, rte_get_tsc_hz() / 10) << "slept most of 300 ms";

  const absl::Time start = absl::Now();
  ASSERT_TRUE(core.Publish(Polling(other), kAckTimeout));
  polled = &other;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100)) << "acknowledged after one sleep";

  core.SetSleepMax(0);
  absl::SleepFor(absl::Milliseconds(10));
  const uint64_t slept_before = CounterRead(core.counters().sleep_cycles);
  EXPECT_GT(polls_in(absl::Milliseconds(100)), 100 * 1000u / 10) << "busy polling again";
  EXPECT_EQ(CounterRead(core.counters().sleep_cycles), slept_before);
  core.Stop();
}

}  // namespace
}  // namespace vhostd
