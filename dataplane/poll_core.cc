#include "dataplane/poll_core.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <sys/prctl.h>

#include <algorithm>

#include "absl/time/clock.h"
#include "dataplane/bridge_forward.h"
#include "dataplane/forward_burst.h"

namespace vhostd {

EntryState::EntryState() : id([] {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}()) {}

InstalledProgram::InstalledProgram(std::unique_ptr<CoreProgram> p, std::vector<std::shared_ptr<EntryState>> s)
    : program(std::move(p)), states(std::move(s)) {
  states.resize(program->entries.size());
  for (size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) states[i] = std::make_shared<EntryState>();
    program->entries[i].backlog = &states[i]->backlog;
    program->entries[i].busy_cycles = &states[i]->busy_cycles;
  }
}

PollCore::PollCore(unsigned lcore, OffloadPools offload_pools)
    : lcore_(lcore),
      offload_pools_(offload_pools),
      installed_(std::make_unique<InstalledProgram>(std::make_unique<CoreProgram>())) {
  next_.store(installed_->program.get(), std::memory_order_relaxed);
}

bool PollCore::Launch() {
  launched_ = rte_eal_remote_launch(&PollCore::Main, this, lcore_) == 0;
  return launched_;
}

int PollCore::Main(void* self) {
  static_cast<PollCore*>(self)->Loop();
  return 0;
}

void PollCore::Loop() {
  running_.store(true, std::memory_order_release);
  // Sleeps of a few microseconds (SetSleepMax) would otherwise last the default timer
  // slack, 50 µs.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  // The generation first: next_ is then that generation's program or a newer one, so
  // the acknowledgment never claims a program the core did not load.
  uint64_t generation = requested_.load(std::memory_order_acquire);
  const CoreProgram* program = next_.load(std::memory_order_acquire);
  acknowledged_.store(generation, std::memory_order_release);
  uint64_t start = rte_rdtsc();
  while (!stop_.load(std::memory_order_relaxed)) {
    uint32_t received = 0;
    // One TSC read per non-empty burst: the entry is charged the time since the
    // previous one (or the iteration's start), which includes the empty polls of the
    // entries between; empty polls read no clock.
    uint64_t mark = start;
    for (const PollEntry& entry : program->entries) {
      const uint16_t n = entry.bridge ? BridgeBurst(entry, offload_pools_) : ForwardBurst(entry, offload_pools_);
      if (n == 0) continue;
      const uint64_t burst_end = rte_rdtsc();
      CounterAdd(*entry.busy_cycles, burst_end - mark);
      mark = burst_end;
      CounterAdd(counters_.batch_sizes[n], 1);
      received += n;
    }
    const uint64_t now = rte_rdtsc();
    CounterAdd(received ? counters_.busy_cycles : counters_.idle_cycles, now - start);
    start = SleepIfQuiet(received == 0, now);
    if (received) CounterAdd(counters_.packets, received);
    // One acquire load per iteration: the control thread asks for a program switch.
    const uint64_t wanted = requested_.load(std::memory_order_acquire);
    if (wanted != generation) {
      program = next_.load(std::memory_order_acquire);
      generation = wanted;
      acknowledged_.store(generation, std::memory_order_release);
    }
    iterations_.store(iterations_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (program->entries.empty() && sleep_us_ == 0) rte_pause();
  }
  acknowledged_.store(UINT64_MAX, std::memory_order_release);
  running_.store(false, std::memory_order_release);  // the loop's last access (see Stop)
}

uint64_t PollCore::SleepIfQuiet(bool quiet, uint64_t now) {
  const uint32_t bound = sleep_max_us_.load(std::memory_order_relaxed);
  if (!quiet || bound == 0) {
    sleep_us_ = 0;
    return now;
  }
  sleep_us_ = std::min(bound, sleep_us_ + 1);
  rte_delay_us_sleep(sleep_us_);
  const uint64_t after = rte_rdtsc();
  CounterAdd(counters_.sleep_cycles, after - now);
  return after;
}

void PollCore::Post(std::unique_ptr<InstalledProgram> program) {
  next_.store(program->program.get(), std::memory_order_release);
  requested_.fetch_add(1, std::memory_order_acq_rel);
  retired_.push_back(std::move(installed_));  // the core may still read it
  installed_ = std::move(program);
}

bool PollCore::AwaitPosted(absl::Time deadline) {
  const uint64_t generation = requested_.load(std::memory_order_relaxed);
  bool acked = !launched_;  // a core that is not running has nothing to let go of
  while (!acked) {
    acked = acknowledged_.load(std::memory_order_acquire) >= generation;
    if (acked || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Microseconds(20));
  }
  // The core loaded this generation's program, so it holds none of the older ones.
  if (acked) retired_.clear();
  return acked;
}

bool PollCore::Publish(std::unique_ptr<CoreProgram> program, absl::Duration timeout) {
  Post(std::make_unique<InstalledProgram>(std::move(program)));
  return AwaitPosted(absl::Now() + timeout);
}

bool PollCore::WaitForIteration(absl::Duration timeout) const {
  const uint64_t start = iterations_.load(std::memory_order_acquire);
  const absl::Time deadline = absl::Now() + timeout;
  while (running_.load(std::memory_order_acquire) && iterations_.load(std::memory_order_acquire) == start) {
    if (absl::Now() > deadline) return false;
    rte_pause();
  }
  return true;
}

void PollCore::Stop() {
  if (!launched_) return;
  stop_.store(true, std::memory_order_relaxed);
  rte_eal_wait_lcore(lcore_);
  // Pairs with the loop's last store, so that (for ThreadSanitizer too, which does not
  // see inside DPDK's wait) nothing the loop read is freed before it let go.
  while (running_.load(std::memory_order_acquire)) rte_pause();
  launched_ = false;
}

}  // namespace vhostd
