// A ForwardingEngine for unit tests: records every program set Apply receives and
// reports the last one through Cores(), as the real engine does once cores run it.
// Apply fails on demand, as the real one does when a core misses the handshake, and
// queue loads are whatever a test sets.
#ifndef VHOSTD_SERVER_TESTING_FAKE_FORWARDING_ENGINE_H_
#define VHOSTD_SERVER_TESTING_FAKE_FORWARDING_ENGINE_H_

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/forwarding_engine.h"

namespace vhostd {
namespace fakes {

class FakeForwardingEngine : public ForwardingEngine {
 public:
  explicit FakeForwardingEngine(size_t cores = 2) : cores_(cores) {}

  size_t core_count() const override { return cores_; }

  absl::Status Apply(std::vector<CoreProgram> programs) override {
    if (on_apply) on_apply(programs);
    applied.push_back(programs);
    absl::Status result = apply_error;
    if (!results.empty()) {
      result = results.front();
      results.pop_front();
    }
    if (!result.ok()) return result;
    installed_ = std::move(programs);
    return absl::OkStatus();
  }

  std::vector<CoreInfo> Cores() const override {
    std::vector<CoreInfo> cores;
    for (size_t i = 0; i < cores_; ++i) {
      CoreInfo info{};
      info.lcore = static_cast<unsigned>(i + 1);
      info.cpu = static_cast<unsigned>(i + 2);
      if (i < installed_.size()) info.queues = installed_[i].labels;
      for (const PollLabel& label : info.queues) {
        auto it = loads.find({label.rx_port, label.rx_queue});
        info.loads.push_back(it == loads.end() ? QueueLoad{} : it->second);
      }
      cores.push_back(info);
    }
    return cores;
  }

  uint64_t tsc_hz() const override { return 1000000000; }
  void SetSleepMax(uint32_t microseconds) override { sleep_max_us = microseconds; }

  // Every program set passed to Apply, in order.
  std::vector<std::vector<CoreProgram>> applied;
  absl::Status apply_error = absl::OkStatus();  // what Apply returns...
  std::deque<absl::Status> results;            // ...unless this has one queued for the next call
  std::function<void(const std::vector<CoreProgram>&)> on_apply;  // called first in Apply
  std::map<RxQueueKey, QueueLoad> loads;  // what Cores() reports for a queue (default: unmeasured)
  uint32_t sleep_max_us = 0;              // the last SetSleepMax

 private:
  const size_t cores_;
  std::vector<CoreProgram> installed_;
};

}  // namespace fakes
}  // namespace vhostd

#endif  // VHOSTD_SERVER_TESTING_FAKE_FORWARDING_ENGINE_H_
