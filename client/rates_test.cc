#include "client/rates.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostctl {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// --- Counter deltas ------------------------------------------------------------------

TEST(CounterDeltaTest, Growth) {
  EXPECT_EQ(CounterDelta(0, 0), 0u);
  EXPECT_EQ(CounterDelta(5, 5), 0u);
  EXPECT_EQ(CounterDelta(5, 12), 7u);
  EXPECT_EQ(CounterDelta(0, kMax), kMax);
  EXPECT_EQ(CounterDelta(kMax - 1, kMax), 1u);
}

TEST(CounterDeltaTest, ACounterThatWentDownWasReset) {
  EXPECT_EQ(CounterDelta(100, 3), 0u);
  EXPECT_EQ(CounterDelta(kMax, 0), 0u);
  EXPECT_EQ(CounterDelta(1, 0), 0u);
}

// --- Per second ------------------------------------------------------------------------

TEST(PerSecondTest, DividesByTheElapsedTime) {
  EXPECT_EQ(PerSecond(1000, absl::Seconds(1)), 1000.0);
  EXPECT_EQ(PerSecond(1000, absl::Seconds(2)), 500.0);
  EXPECT_DOUBLE_EQ(*PerSecond(10, absl::Milliseconds(100)), 100.0);
  EXPECT_EQ(PerSecond(0, absl::Seconds(5)), 0.0);
  EXPECT_DOUBLE_EQ(*PerSecond(kMax, absl::Seconds(1)), static_cast<double>(kMax));
}

TEST(PerSecondTest, NoRateWithoutElapsedTime) {
  EXPECT_EQ(PerSecond(10, absl::ZeroDuration()), std::nullopt);
  EXPECT_EQ(PerSecond(10, absl::Seconds(-1)), std::nullopt);
}

// --- Traffic ---------------------------------------------------------------------------

TEST(TrafficRatesTest, PacketsBitsAndDrops) {
  TrafficCounters before{1000, 64000, 2000, 128000, 10};
  TrafficCounters after{3000, 192000, 2500, 160000, 30};
  std::optional<TrafficRates> rates = ComputeTrafficRates(before, after, absl::Seconds(2));
  ASSERT_TRUE(rates.has_value());
  EXPECT_DOUBLE_EQ(rates->rx_pps, 1000);
  EXPECT_DOUBLE_EQ(rates->rx_bps, 128000 * 8 / 2);  // bytes * 8 per second
  EXPECT_DOUBLE_EQ(rates->tx_pps, 250);
  EXPECT_DOUBLE_EQ(rates->tx_bps, 32000 * 8 / 2);
  EXPECT_DOUBLE_EQ(rates->drop_ps, 10);
  EXPECT_DOUBLE_EQ(rates->total_pps(), 1250);
  EXPECT_DOUBLE_EQ(rates->total_bps(), (128000 + 32000) * 4);
}

TEST(TrafficRatesTest, ResetCountersReadZero) {
  TrafficCounters before{1000, 64000, 2000, 128000, 10};
  TrafficCounters after{5, 320, 2100, 134400, 0};  // rx and drops restarted
  std::optional<TrafficRates> rates = ComputeTrafficRates(before, after, absl::Seconds(1));
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->rx_pps, 0);
  EXPECT_EQ(rates->rx_bps, 0);
  EXPECT_EQ(rates->drop_ps, 0);
  EXPECT_DOUBLE_EQ(rates->tx_pps, 100);
  EXPECT_DOUBLE_EQ(rates->tx_bps, 6400 * 8);
}

TEST(TrafficRatesTest, NoRatesWithoutElapsedTime) {
  TrafficCounters counters{1, 2, 3, 4, 5};
  EXPECT_FALSE(ComputeTrafficRates(counters, counters, absl::ZeroDuration()).has_value());
  EXPECT_FALSE(ComputeTrafficRates(counters, counters, absl::Seconds(-1)).has_value());
}

// --- Cores -----------------------------------------------------------------------------

TEST(CoreRatesTest, BusyPpsAndBatch) {
  CoreCounters before{1000, 9000, 500, 10};
  CoreCounters after{1250, 9750, 3700, 110};
  std::optional<CoreRates> rates = ComputeCoreRates(before, after, absl::Milliseconds(500));
  ASSERT_TRUE(rates.has_value());
  EXPECT_DOUBLE_EQ(*rates->busy_percent, 25.0);  // 250 / (250 + 750)
  EXPECT_DOUBLE_EQ(rates->pps, 6400);            // 3200 packets in 0.5 s
  EXPECT_DOUBLE_EQ(*rates->batch, 32.0);         // 3200 packets / 100 bursts
}

TEST(CoreRatesTest, IdleCore) {
  CoreCounters before{0, 1000, 0, 0};
  CoreCounters after{0, 2000, 0, 0};
  std::optional<CoreRates> rates = ComputeCoreRates(before, after, absl::Seconds(1));
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->busy_percent, 0.0);
  EXPECT_EQ(rates->pps, 0);
  EXPECT_EQ(rates->batch, std::nullopt);  // no burst: no average
}

TEST(CoreRatesTest, NotPolledMeanwhile) {
  CoreCounters counters{5, 5, 5, 5};
  std::optional<CoreRates> rates = ComputeCoreRates(counters, counters, absl::Seconds(1));
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->busy_percent, std::nullopt);
  EXPECT_EQ(rates->batch, std::nullopt);
}

TEST(CoreRatesTest, RestartedCountersGiveNoSplit) {
  CoreCounters before{1000, 9000, 500, 10};
  CoreCounters after{10, 20000, 100, 2};  // the daemon restarted
  std::optional<CoreRates> rates = ComputeCoreRates(before, after, absl::Seconds(1));
  ASSERT_TRUE(rates.has_value());
  EXPECT_EQ(rates->busy_percent, std::nullopt);
  EXPECT_EQ(rates->pps, 0);
  EXPECT_EQ(rates->batch, std::nullopt);
}

TEST(CoreRatesTest, HugeCycleCountsDoNotOverflow) {
  CoreCounters before{0, 0, 0, 0};
  CoreCounters after{kMax, kMax, 0, 0};
  std::optional<CoreRates> rates = ComputeCoreRates(before, after, absl::Seconds(1));
  ASSERT_TRUE(rates.has_value());
  EXPECT_DOUBLE_EQ(*rates->busy_percent, 50.0);
}

TEST(CoreRatesTest, NoRatesWithoutElapsedTime) {
  CoreCounters counters{1, 2, 3, 4};
  EXPECT_FALSE(ComputeCoreRates(counters, counters, absl::ZeroDuration()).has_value());
}

// --- SI formatting ---------------------------------------------------------------------

struct SiCase {
  double value;
  const char* text;
};

class FormatSiTest : public ::testing::TestWithParam<SiCase> {};

TEST_P(FormatSiTest, Formats) { EXPECT_EQ(FormatSi(GetParam().value), GetParam().text); }

INSTANTIATE_TEST_SUITE_P(
    Values, FormatSiTest,
    ::testing::Values(SiCase{0, "0"}, SiCase{1, "1"}, SiCase{7, "7"}, SiCase{0.5, "0.5"},
                      SiCase{0.04, "0.0"}, SiCase{9.5, "9.5"}, SiCase{12.4, "12"},
                      SiCase{999, "999"}, SiCase{999.4, "999"}, SiCase{999.5, "1.00k"},
                      SiCase{1000, "1.00k"}, SiCase{1234, "1.23k"}, SiCase{9994, "9.99k"},
                      SiCase{9999, "10.0k"}, SiCase{12345, "12.3k"}, SiCase{99999, "100k"},
                      SiCase{123456, "123k"}, SiCase{999499, "999k"}, SiCase{999999, "1.00M"},
                      SiCase{1e6, "1.00M"}, SiCase{14.88e6, "14.9M"}, SiCase{456e6, "456M"},
                      SiCase{1.5e9, "1.50G"}, SiCase{10e9, "10.0G"}, SiCase{100e9, "100G"},
                      SiCase{2e12, "2.00T"}, SiCase{3e15, "3.00P"}, SiCase{4e18, "4.00E"},
                      SiCase{1.8e19, "18.0E"}, SiCase{5e21, "5000E"}));

TEST(FormatSiTest, InvalidValues) {
  EXPECT_EQ(FormatSi(-1), "-");
  EXPECT_EQ(FormatSi(std::nan("")), "-");
  EXPECT_EQ(FormatSi(std::numeric_limits<double>::infinity()), "-");
  EXPECT_EQ(FormatSi(std::optional<double>()), "-");
  EXPECT_EQ(FormatSi(std::optional<double>(2500)), "2.50k");
}

TEST(FormatFixedTest, Decimals) {
  EXPECT_EQ(FormatFixed(12.345, 1), "12.3");
  EXPECT_EQ(FormatFixed(100.0, 1), "100.0");
  EXPECT_EQ(FormatFixed(0.0, 1), "0.0");
  EXPECT_EQ(FormatFixed(32.0, 0), "32");
  EXPECT_EQ(FormatFixed(std::nullopt, 1), "-");
  EXPECT_EQ(FormatFixed(std::nan(""), 1), "-");
}

}  // namespace
}  // namespace vhostctl
