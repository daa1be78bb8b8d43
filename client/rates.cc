#include "client/rates.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace vhostctl {

uint64_t CounterDelta(uint64_t previous, uint64_t current) {
  return current >= previous ? current - previous : 0;
}

std::optional<double> PerSecond(uint64_t delta, absl::Duration elapsed) {
  if (elapsed <= absl::ZeroDuration()) return std::nullopt;
  return static_cast<double>(delta) / absl::ToDoubleSeconds(elapsed);
}

std::optional<TrafficRates> ComputeTrafficRates(const TrafficCounters& previous,
                                                const TrafficCounters& current,
                                                absl::Duration elapsed) {
  if (elapsed <= absl::ZeroDuration()) return std::nullopt;
  const double seconds = absl::ToDoubleSeconds(elapsed);
  auto rate = [seconds](uint64_t before, uint64_t after) {
    return static_cast<double>(CounterDelta(before, after)) / seconds;
  };
  TrafficRates rates;
  rates.rx_pps = rate(previous.rx_packets, current.rx_packets);
  rates.rx_bps = 8 * rate(previous.rx_bytes, current.rx_bytes);
  rates.tx_pps = rate(previous.tx_packets, current.tx_packets);
  rates.tx_bps = 8 * rate(previous.tx_bytes, current.tx_bytes);
  rates.drop_ps = rate(previous.tx_dropped, current.tx_dropped);
  return rates;
}

std::optional<CoreRates> ComputeCoreRates(const CoreCounters& previous,
                                          const CoreCounters& current, absl::Duration elapsed) {
  if (elapsed <= absl::ZeroDuration()) return std::nullopt;
  CoreRates rates;
  rates.pps = static_cast<double>(CounterDelta(previous.packets, current.packets)) /
              absl::ToDoubleSeconds(elapsed);
  if (current.busy_cycles >= previous.busy_cycles &&
      current.idle_cycles >= previous.idle_cycles) {
    // In floating point: the two deltas may each be near UINT64_MAX.
    const double busy = static_cast<double>(current.busy_cycles - previous.busy_cycles);
    const double idle = static_cast<double>(current.idle_cycles - previous.idle_cycles);
    if (busy + idle > 0) rates.busy_percent = 100.0 * busy / (busy + idle);
  }
  if (current.packets >= previous.packets && current.bursts > previous.bursts) {
    rates.batch = static_cast<double>(current.packets - previous.packets) /
                  static_cast<double>(current.bursts - previous.bursts);
  }
  return rates;
}

std::string FormatSi(double value) {
  if (!std::isfinite(value) || value < 0) return "-";
  if (std::round(value) < 1000) {
    if (value < 10 && value != std::floor(value)) return absl::StrFormat("%.1f", value);
    return absl::StrFormat("%.0f", value);
  }
  static constexpr char kSuffixes[] = "kMGTPE";
  double scaled = value;
  for (int unit = 0; kSuffixes[unit] != '\0'; ++unit) {
    scaled /= 1000;
    const char suffix = kSuffixes[unit];
    const bool last = kSuffixes[unit + 1] == '\0';
    // Three significant digits: 1.23, 12.3, 123 - checked after rounding, so that 9.996
    // becomes "10.0" and 999.7 moves on to the next unit as "1.00".
    for (int decimals = 2; decimals >= 0; --decimals) {
      const double scale = std::pow(10.0, decimals);
      const double limit = std::pow(10.0, 3 - decimals);  // 10, 100, 1000
      // We only get here from a value that rounded to 1000 in the unit below, so the
      // scaled value is at least 0.9995: it shows as 1.00 at least.
      const double rounded = std::max(1.0, std::round(scaled * scale) / scale);
      if (rounded < limit || (decimals == 0 && last)) {
        return absl::StrFormat("%.*f%c", decimals, rounded, suffix);
      }
    }
  }
  return "-";  // not reached: the last unit always returns
}

std::string FormatSi(const std::optional<double>& value) {
  return value ? FormatSi(*value) : "-";
}

std::string FormatFixed(const std::optional<double>& value, int decimals) {
  if (!value || !std::isfinite(*value)) return "-";
  return absl::StrFormat("%.*f", decimals, *value);
}

}  // namespace vhostctl
