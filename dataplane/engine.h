// The data-plane engine: the mbuf pool and the polling cores, and the one way to change
// what the cores do (Apply). Used from the control thread only.
#ifndef VHOSTD_DATAPLANE_ENGINE_H_
#define VHOSTD_DATAPLANE_ENGINE_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/forwarding_engine.h"
#include "dataplane/forwarding_plan.h"
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

  absl::Status Apply(std::vector<CoreProgram> programs) override;
  std::vector<CoreInfo> Cores() const override;
  uint64_t tsc_hz() const override;
  // Called from DPDK's vhost-events thread (destroy_device): waits until every core
  // finished the burst it may have started with the device's old state.
  void WaitForQuiescence() override;

 private:
  Engine(rte_mempool* pool, std::vector<std::unique_ptr<PollCore>> cores);
  rte_mempool* pool_;
  std::vector<std::unique_ptr<PollCore>> cores_;
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_ENGINE_H_
