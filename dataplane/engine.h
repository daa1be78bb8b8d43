// The data-plane engine: the mbuf pool and the polling cores, and the one way to change
// what the cores do (Apply). Used from the control thread only.
#ifndef VHOSTD_DATAPLANE_ENGINE_H_
#define VHOSTD_DATAPLANE_ENGINE_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/forwarding_plan.h"
#include "dataplane/poll_core.h"

struct rte_mempool;

namespace vhostd {

struct CoreInfo {
  unsigned lcore;
  unsigned cpu;
  std::vector<PollLabel> queues;
  uint64_t busy_cycles;
  uint64_t idle_cycles;
  uint64_t packets;
  uint64_t bursts;
};

class Engine {
 public:
  // Creates the mbuf pool and launches a PollCore on every worker lcore. EAL must be
  // initialised.
  static absl::StatusOr<std::unique_ptr<Engine>> Start(unsigned mbufs);
  ~Engine();  // stops the cores

  rte_mempool* mbuf_pool() const { return pool_; }
  size_t core_count() const { return cores_.size(); }

  // Installs one program per core (programs.size() == core_count()). Returns an error
  // if a core did not take its new program in time.
  absl::Status Apply(std::vector<CoreProgram> programs);
  std::vector<CoreInfo> Cores() const;

 private:
  Engine(rte_mempool* pool, std::vector<std::unique_ptr<PollCore>> cores);
  rte_mempool* pool_;
  std::vector<std::unique_ptr<PollCore>> cores_;
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_ENGINE_H_
