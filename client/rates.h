// Rate arithmetic of vhostctl's live views ("port stats --watch", "top"): counter deltas
// between two samples, per-second rates, and their rendering with SI suffixes. Pure
// functions: no I/O, no clock, no protobuf.
#ifndef VHOSTD_CLIENT_RATES_H_
#define VHOSTD_CLIENT_RATES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace vhostctl {

// How much a monotonic counter grew from `previous` to `current`. A counter that went
// down was reset (the port was re-created, the daemon restarted) rather than wrapped (a
// 64-bit counter does not wrap in practice): the delta is then 0, so the rate over that
// interval reads 0 instead of a huge bogus number.
uint64_t CounterDelta(uint64_t previous, uint64_t current);

// `delta` per second over `elapsed`; nullopt unless elapsed is positive.
std::optional<double> PerSecond(uint64_t delta, absl::Duration elapsed);

// The traffic counters of one queue or one port.
struct TrafficCounters {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_dropped = 0;
};

struct TrafficRates {
  double rx_pps = 0;   // packets per second
  double rx_bps = 0;   // bits per second (bytes * 8)
  double tx_pps = 0;
  double tx_bps = 0;
  double drop_ps = 0;  // tx_dropped per second

  double total_pps() const { return rx_pps + tx_pps; }
  double total_bps() const { return rx_bps + tx_bps; }
};

// Rates between two samples taken `elapsed` apart; nullopt unless elapsed is positive.
// Each counter goes through CounterDelta.
std::optional<TrafficRates> ComputeTrafficRates(const TrafficCounters& previous,
                                                const TrafficCounters& current,
                                                absl::Duration elapsed);

// The counters of one polling core.
struct CoreCounters {
  uint64_t busy_cycles = 0;  // cycles of polls that moved packets
  uint64_t idle_cycles = 0;  // cycles of empty polls
  uint64_t packets = 0;
  uint64_t bursts = 0;       // non-empty receive bursts
};

struct CoreRates {
  // dbusy / (dbusy + didle) in percent; unset when no cycle was counted in between, or
  // when either cycle counter went down (a restart: the split is unknown).
  std::optional<double> busy_percent;
  double pps = 0;
  // Average packets per non-empty burst (dpackets / dbursts); unset without a burst in
  // between, or when either counter went down.
  std::optional<double> batch;
};

// Rates between two samples taken `elapsed` apart; nullopt unless elapsed is positive.
std::optional<CoreRates> ComputeCoreRates(const CoreCounters& previous,
                                          const CoreCounters& current, absl::Duration elapsed);

// `value` with three significant digits and an SI suffix (k, M, G, T, P, E: powers of
// 1000): "0", "7", "0.5", "999", "1.00k", "12.3k", "456M", "1.50G". Values under 1000
// stay whole, except non-whole ones under 10, which keep one decimal. "-" for a
// negative or non-finite value.
std::string FormatSi(double value);
// FormatSi of the value, "-" when unset.
std::string FormatSi(const std::optional<double>& value);

// The value with `decimals` decimals ("12.5"); "-" when unset or not finite.
std::string FormatFixed(const std::optional<double>& value, int decimals);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_RATES_H_
