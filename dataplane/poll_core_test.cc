// PollCore on a real EAL worker lcore: the program handshake, and what is kept alive
// while a core does not acknowledge.
#include "dataplane/poll_core.h"

#include <rte_config.h>
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

}  // namespace
}  // namespace vhostd
