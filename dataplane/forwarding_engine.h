// What the control plane needs from the data-plane engine; Engine implements it, and
// unit tests of control logic substitute a fake.
#ifndef VHOSTD_DATAPLANE_FORWARDING_ENGINE_H_
#define VHOSTD_DATAPLANE_FORWARDING_ENGINE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/forwarding_plan.h"

namespace vhostd {

// What one polled queue cost its core.
struct QueueLoad {
  uint64_t busy_cycles = 0;  // TSC cycles of its non-empty bursts, since it was planned so
  // Its share (0..1) of the core's cycles over the recent window; unset until measured.
  std::optional<double> share;
};

struct CoreInfo {
  unsigned lcore;
  unsigned cpu;
  std::vector<PollLabel> queues;
  std::vector<QueueLoad> loads;  // parallel to `queues`
  uint64_t busy_cycles;
  uint64_t idle_cycles;
  uint64_t sleep_cycles;  // slept after empty polls (SetSleepMax); busy + idle + sleep is all
  uint64_t packets;
  std::vector<uint64_t> batch_sizes;  // [n]: receive calls that returned n packets
};

// The most a core may sleep when idle (SetSleepMax), as OVS allows for pmd-sleep-max.
inline constexpr uint32_t kMaxIdleSleepUs = 10000;

class ForwardingEngine {
 public:
  virtual ~ForwardingEngine() = default;
  virtual size_t core_count() const = 0;
  // Installs one program per core (missing ones are empty) without ever letting two
  // cores poll one queue; returns once every core runs its new program (so memory the
  // old programs referenced may be freed), or an error if one did not: then that core
  // may still run an older program, which stays alive.
  virtual absl::Status Apply(std::vector<CoreProgram> programs) = 0;
  // What every core polls and its counters. Safe on any thread, also while Apply runs.
  virtual std::vector<CoreInfo> Cores() const = 0;
  // Frequency of the cycle counter behind CoreInfo's busy/idle cycles.
  virtual uint64_t tsc_hz() const = 0;
  // Every core sleeps up to `microseconds` when its polls come back empty (0: never);
  // see PollCore::SetSleepMax. Any thread.
  virtual void SetSleepMax(uint32_t microseconds) = 0;
  // Packet buffers of the shared pool not free now (in flight, held by ports, or in a
  // core's cache); for leak checks. Any thread.
  virtual uint64_t mbufs_in_use() const { return 0; }
};

// Where the cores poll each receive queue now and what it costs there (core i is
// CoreInfo i, as in Apply).
inline CurrentAssignment AssignmentOf(const std::vector<CoreInfo>& cores) {
  CurrentAssignment assignment;
  for (size_t core = 0; core < cores.size(); ++core) {
    const CoreInfo& info = cores[core];
    for (size_t i = 0; i < info.queues.size(); ++i) {
      const std::optional<double> load = i < info.loads.size() ? info.loads[i].share : std::nullopt;
      assignment[{info.queues[i].rx_port, info.queues[i].rx_queue}] = {core, load};
    }
  }
  return assignment;
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_FORWARDING_ENGINE_H_
