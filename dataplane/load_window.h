// Each polled queue's share of its core over a recent window, from samples of
// monotonic cycle counters (OVS's pmd-rxq-show keeps 12 intervals of 5 s). Pure: the
// caller reads the counters and the clock, so the rules are unit-tested without cores.
#ifndef VHOSTD_DATAPLANE_LOAD_WINDOW_H_
#define VHOSTD_DATAPLANE_LOAD_WINDOW_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

namespace vhostd {

class LoadWindow {
 public:
  struct Queue {
    uint64_t id;           // identifies the queue's entry for as long as it exists
    uint64_t busy_cycles;  // monotonic
  };
  struct Core {
    uint64_t cycles;  // the core's busy + idle cycles, monotonic
    std::vector<Queue> queues;
  };

  // Samples are kept `interval` apart and for `window`; a share needs at least
  // `interval` between its base sample and now (less is noise). All in TSC cycles.
  LoadWindow(uint64_t interval, uint64_t window) : interval_(interval), window_(window) {}

  // Reads the counters at `tsc`: returns, per core and queue of `now` (same shape),
  // the queue's share (0..1) of its core's cycles since the newest kept sample that is
  // at least a window old, or since the oldest one in which the queue already was on
  // that core; nullopt while less than an interval of such history exists. Then keeps
  // `now` as a sample (replacing the newest if that one is less than an interval newer
  // than the one before).
  std::vector<std::vector<std::optional<double>>> Update(uint64_t tsc, const std::vector<Core>& now);

  size_t samples() const { return kept_.size(); }

 private:
  struct Sample {
    uint64_t tsc;
    std::vector<uint64_t> core_cycles;
    std::vector<std::map<uint64_t, uint64_t>> queue_cycles;  // per core: id -> busy cycles
  };
  std::optional<double> Share(uint64_t tsc, size_t core, const Core& now, const Queue& queue) const;
  void Keep(uint64_t tsc, const std::vector<Core>& now);

  uint64_t interval_;
  uint64_t window_;
  std::deque<Sample> kept_;  // oldest first
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_LOAD_WINDOW_H_
