#include "dataplane/load_window.h"

#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::DoubleNear;
using ::testing::Optional;

// Time in seconds, a "TSC" of 1000 cycles per second.
constexpr uint64_t kHz = 1000;
constexpr uint64_t kInterval = 5 * kHz;
constexpr uint64_t kWindow = 60 * kHz;

// Simulated counters: each queue has a fixed load (share of its core), per phase.
struct Sim {
  uint64_t tsc = 0;
  std::vector<LoadWindow::Core> cores;

  // Advances `seconds`; queue q of core c was busy `load[c][q]` of the time.
  void Run(uint64_t seconds, const std::vector<std::vector<double>>& load) {
    tsc += seconds * kHz;
    for (size_t c = 0; c < cores.size(); ++c) {
      cores[c].cycles += seconds * kHz;
      for (size_t q = 0; q < cores[c].queues.size(); ++q) {
        cores[c].queues[q].busy_cycles += static_cast<uint64_t>(load[c][q] * seconds * kHz);
      }
    }
  }
};

TEST(LoadWindowTest, NothingIsMeasuredUntilAnIntervalOfHistoryExists) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{1, 0}}}}};
  EXPECT_EQ(window.Update(sim.tsc, sim.cores)[0][0], std::nullopt) << "no sample yet";
  sim.Run(2, {{0.5}});
  EXPECT_EQ(window.Update(sim.tsc, sim.cores)[0][0], std::nullopt) << "2 s of history is noise";
  sim.Run(3, {{0.5}});
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[0][0], Optional(DoubleNear(0.5, 1e-9)));
}

TEST(LoadWindowTest, ShareIsTheQueuesBusyCyclesOverItsCoresCycles) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{1, 0}, {2, 0}}}, {0, {{3, 0}}}}};
  window.Update(sim.tsc, sim.cores);
  sim.Run(10, {{0.25, 0.0}, {0.9}});
  const auto shares = window.Update(sim.tsc, sim.cores);
  EXPECT_THAT(shares[0][0], Optional(DoubleNear(0.25, 1e-9)));
  EXPECT_THAT(shares[0][1], Optional(DoubleNear(0.0, 1e-9)));
  EXPECT_THAT(shares[1][0], Optional(DoubleNear(0.9, 1e-9)));
}

// A queue that was busy and went idle a minute ago shows its recent load, not its
// lifetime average.
TEST(LoadWindowTest, TheWindowSlides) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{1, 0}}}}};
  for (int i = 0; i < 12; ++i) {
    window.Update(sim.tsc, sim.cores);
    sim.Run(5, {{1.0}});
  }
  for (int i = 0; i < 12; ++i) {
    window.Update(sim.tsc, sim.cores);
    sim.Run(5, {{0.0}});
  }
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[0][0], Optional(DoubleNear(0.0, 1e-9)));
  sim.Run(30, {{1.0}});
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[0][0], Optional(DoubleNear(0.5, 1e-9)))
      << "the last 60 s: 30 s idle, 30 s busy";
}

// A queue moved to another core is measured there only from the move on.
TEST(LoadWindowTest, AMovedQueueCountsOnlySinceItsMove) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{7, 0}}}, {0, {}}}};
  window.Update(sim.tsc, sim.cores);
  sim.Run(20, {{1.0}, {}});
  window.Update(sim.tsc, sim.cores);
  // The queue (its counter carried along) now runs on core 1.
  sim.cores[1].queues.push_back(sim.cores[0].queues[0]);
  sim.cores[0].queues.clear();
  EXPECT_EQ(window.Update(sim.tsc, sim.cores)[1][0], std::nullopt) << "no history on core 1 yet";
  sim.Run(10, {{}, {0.2}});
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[1][0], Optional(DoubleNear(0.2, 1e-9)));
}

// A queue that left its core and came back starts over there.
TEST(LoadWindowTest, AQueueThatCameBackStartsOver) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{7, 0}}}}};
  window.Update(sim.tsc, sim.cores);
  sim.Run(10, {{1.0}});
  LoadWindow::Queue away = sim.cores[0].queues[0];
  sim.cores[0].queues.clear();
  window.Update(sim.tsc, sim.cores);
  sim.Run(10, {{}});
  sim.cores[0].queues.push_back(away);
  window.Update(sim.tsc, sim.cores);
  sim.Run(10, {{0.1}});
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[0][0], Optional(DoubleNear(0.1, 1e-9)));
}

TEST(LoadWindowTest, FrequentReadersKeepFewSamples) {
  LoadWindow window(kInterval, kWindow);
  Sim sim{0, {{0, {{1, 0}}}}};
  for (int i = 0; i < 100000; ++i) {
    window.Update(sim.tsc, sim.cores);
    sim.tsc += 1;  // a reading every millisecond
    sim.cores[0].cycles += 1;
    sim.cores[0].queues[0].busy_cycles += i % 4 == 0;
  }
  EXPECT_LE(window.samples(), kWindow / kInterval + 3);
  EXPECT_THAT(window.Update(sim.tsc, sim.cores)[0][0], Optional(DoubleNear(0.25, 0.01)));
}

}  // namespace
}  // namespace vhostd
