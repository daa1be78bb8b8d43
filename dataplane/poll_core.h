// A polling core: an EAL lcore that runs a CoreProgram in a loop. The control thread
// replaces the program with a generation handshake (OVS's PMD reload), so the loop
// takes no lock and the old program is freed only after the core let go of it.
#ifndef VHOSTD_DATAPLANE_POLL_CORE_H_
#define VHOSTD_DATAPLANE_POLL_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "dataplane/forward_burst.h"
#include "dataplane/forwarding_plan.h"
#include "dataplane/offload.h"

namespace vhostd {

// Written only by the core; read by anyone.
struct alignas(64) CoreCounters {
  std::atomic<uint64_t> busy_cycles{0};  // TSC cycles of loop iterations that moved packets
  std::atomic<uint64_t> idle_cycles{0};  // TSC cycles of iterations that found nothing
  std::atomic<uint64_t> sleep_cycles{0};  // TSC cycles slept after those (SetSleepMax)
  std::atomic<uint64_t> packets{0};      // packets received
  // batch_sizes[n]: receive calls that returned n packets (n >= 1).
  std::atomic<uint64_t> batch_sizes[kBurstSize + 1] = {};
};

// What a core keeps for one entry while it runs it. It outlives a program: the engine
// hands it to the entry's next program, on this core or (once this core let go of the
// entry) on another, so segments waiting in the backlog survive a reprogramming and
// the cycle counter stays monotonic. Only the core running the entry writes it.
struct alignas(64) EntryState {
  EntryState();
  const uint64_t id;  // unique in the process, for load samples (load_window.h)
  // TSC cycles of this entry's non-empty bursts, read by anyone.
  std::atomic<uint64_t> busy_cycles{0};
  TxBacklog backlog;
};

// A program as a core runs it: the entries point to their states. Freed as one, after
// the core let go of it; a state goes when the last program holding it does.
struct InstalledProgram {
  // `states` has one state per entry (in entry order); missing ones are created.
  explicit InstalledProgram(std::unique_ptr<CoreProgram> program,
                            std::vector<std::shared_ptr<EntryState>> states = {});
  std::unique_ptr<CoreProgram> program;
  std::vector<std::shared_ptr<EntryState>> states;
};

class PollCore {
 public:
  // `offload_pools` back software segmentation (see offload.h); without them large
  // frames for ports that cannot take them are dropped.
  explicit PollCore(unsigned lcore, OffloadPools offload_pools = {});
  unsigned lcore() const { return lcore_; }

  // Control thread: starts the loop on the lcore.
  bool Launch();
  // Control thread: hands `program` to the core, which switches to it at the end of
  // its current loop iteration; returns at once. The program it ran is retired: kept
  // alive, with any retired before, until an AwaitPosted succeeds.
  void Post(std::unique_ptr<InstalledProgram> program);
  // Control thread: waits until the core runs the program of the last Post (or is not
  // running), until `deadline`. On success the retired programs are freed, since a core
  // that loaded generation g holds no older program; false on timeout.
  bool AwaitPosted(absl::Time deadline);
  // Post, then AwaitPosted with `timeout`.
  bool Publish(std::unique_ptr<CoreProgram> program, absl::Duration timeout);
  // Control thread: stops the loop and waits for the lcore to finish.
  void Stop();
  // Any thread: after an iteration that received nothing the core sleeps, 1 µs longer
  // after each further one, up to `microseconds` (0: never, the default), like OVS's
  // pmd-sleep-max. The first packets after a quiet spell wait up to that long, and a
  // program switch is acknowledged after the sleep.
  void SetSleepMax(uint32_t microseconds) { sleep_max_us_.store(microseconds, std::memory_order_relaxed); }
  uint32_t sleep_max() const { return sleep_max_us_.load(std::memory_order_relaxed); }

  // Returns once the core finished the loop iteration it was in (or is not running),
  // or after `timeout`; false on timeout.
  bool WaitForIteration(absl::Duration timeout) const;

  // Control thread only: the program last posted.
  const InstalledProgram& installed() const { return *installed_; }
  const CoreProgram& program() const { return *installed_->program; }
  // Control thread: programs kept alive because the core may still run them. Zero
  // means the core is known to run installed() exactly.
  size_t retired_programs() const { return retired_.size(); }
  const std::vector<std::unique_ptr<InstalledProgram>>& retired() const { return retired_; }
  const CoreCounters& counters() const { return counters_; }

 private:
  static int Main(void* self);
  void Loop();
  // The sleep after an iteration ending at `now` that received nothing (`quiet`), if
  // sleeping is on; returns the time after it. Loop only.
  uint64_t SleepIfQuiet(bool quiet, uint64_t now);

  const unsigned lcore_;
  const OffloadPools offload_pools_;
  std::unique_ptr<InstalledProgram> installed_;  // owned by control; read by the core
  // Programs replaced while the core did not acknowledge: it may still run any of them.
  std::vector<std::unique_ptr<InstalledProgram>> retired_;
  std::atomic<const CoreProgram*> next_{nullptr};
  std::atomic<uint64_t> requested_{0};
  std::atomic<uint64_t> acknowledged_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> iterations_{0};  // loop iterations completed
  std::atomic<bool> running_{false};
  std::atomic<uint32_t> sleep_max_us_{0};
  uint32_t sleep_us_ = 0;  // the loop's next sleep; only the loop touches it
  bool launched_ = false;
  CoreCounters counters_;
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_POLL_CORE_H_
