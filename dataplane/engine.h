// The data-plane engine: the mbuf pool and the polling cores, and the one way to change
// what the cores do (Apply). Apply runs on the control thread; Cores() on any thread
// (metrics, gRPC), also while Apply runs.
#ifndef VHOSTD_DATAPLANE_ENGINE_H_
#define VHOSTD_DATAPLANE_ENGINE_H_

#include <memory>
#include <vector>

#include <mutex>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dataplane/forwarding_engine.h"
#include "dataplane/forwarding_plan.h"
#include "dataplane/load_window.h"
#include "dataplane/poll_core.h"
#include "dataplane/port_plugin.h"

struct rte_mempool;

namespace vhostd {

class Engine : public ForwardingEngine, public CoreQuiescence {
 public:
  // Creates the mbuf pool and launches a PollCore on every worker lcore. EAL must be
  // initialised.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(unsigned mbufs);
  ~Engine() override;  // stops the cores

  rte_mempool* mbuf_pool() const { return pool_; }
  size_t core_count() const override { return cores_.size(); }

  // For tests: an engine over `cores` (launched here), without packet pools; null if a
  // core cannot be launched.
  static std::unique_ptr<Engine> WithCores(std::vector<std::unique_ptr<PollCore>> cores);

  // Two phases, like OVS's PMD reload, so that no queue is ever polled by two cores:
  // 1. every core whose program loses entries (they move to another core or go) gets
  //    its program minus those entries; all of them must acknowledge;
  // 2. only then every core gets its new program.
  // If a core misses phase 1's handshake, phase 2 does not run: no queue moved, and
  // what that core may still run stays alive (PollCore keeps retired programs). Fails
  // with INVALID_ARGUMENT, changing nothing, if the programs poll a receive queue twice
  // or write a transmit queue from two cores.
  absl::Status Apply(std::vector<CoreProgram> programs) override;
  std::vector<CoreInfo> Cores() const override;
  uint64_t tsc_hz() const override;
  uint64_t mbufs_in_use() const override;
  void SetSleepMax(uint32_t microseconds) override;
  // Called from DPDK's vhost-events thread (destroy_device): waits until every core
  // finished the burst it may have started with the device's old state.
  void WaitForQuiescence() override;

  const PollCore& core(size_t i) const { return *cores_[i]; }  // control thread, tests
  // The window over which Cores() reports queue shares (default: 5 s samples over 60 s,
  // as OVS's pmd-rxq-show); history is dropped. For tests.
  void SetLoadWindow(absl::Duration interval, absl::Duration window);

 private:
  Engine(rte_mempool* pool, std::vector<std::unique_ptr<PollCore>> cores);
  // Waits, with one deadline, until every core in `posted` runs what was posted to it;
  // the error names the cores that did not and what they were asked (`what`).
  absl::Status AwaitAll(const std::vector<size_t>& posted, const char* what);
  // Posts `program` to core `core` and records its labels for Cores().
  void PostProgram(size_t core, std::unique_ptr<InstalledProgram> program);

  rte_mempool* pool_;
  const std::vector<std::unique_ptr<PollCore>> cores_;
  // What each core was last given, for readers on other threads: PollCore's own
  // programs are replaced under them by Apply. The polling loop never takes the lock.
  // A std::mutex (pthread), so that ThreadSanitizer sees it: Debian's Abseil is not
  // instrumented.
  mutable std::mutex mu_;
  // Per core, guarded by mu_: the labels and entry states of the program last posted.
  struct Posted {
    std::vector<PollLabel> labels;
    std::vector<std::shared_ptr<const EntryState>> states;  // for their cycle counters
  };
  std::vector<Posted> posted_;
  mutable LoadWindow load_window_;  // guarded by mu_; each Cores() call is a reading
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_ENGINE_H_
