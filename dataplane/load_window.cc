#include "dataplane/load_window.h"

#include <algorithm>

namespace vhostd {

std::vector<std::vector<std::optional<double>>> LoadWindow::Update(uint64_t tsc, const std::vector<Core>& now) {
  std::vector<std::vector<std::optional<double>>> shares(now.size());
  for (size_t c = 0; c < now.size(); ++c) {
    for (const Queue& queue : now[c].queues) shares[c].push_back(Share(tsc, c, now[c], queue));
  }
  Keep(tsc, now);
  return shares;
}

std::optional<double> LoadWindow::Share(uint64_t tsc, size_t core, const Core& now, const Queue& queue) const {
  const Sample* base = nullptr;
  // Back from the newest sample while the queue was on this core (cycles it spent on
  // another core must not count here), stopping at the first a full window old.
  for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) {
    if (core >= it->queue_cycles.size()) break;
    auto found = it->queue_cycles[core].find(queue.id);
    if (found == it->queue_cycles[core].end()) break;
    base = &*it;
    if (tsc - it->tsc >= window_) break;
  }
  if (base == nullptr || tsc - base->tsc < interval_) return std::nullopt;
  const uint64_t core_cycles = now.cycles - base->core_cycles[core];
  if (core_cycles == 0) return std::nullopt;
  const uint64_t busy = queue.busy_cycles - base->queue_cycles[core].at(queue.id);
  // The counters are read one after the other: clamp what that skew can add.
  return std::min(1.0, static_cast<double>(busy) / static_cast<double>(core_cycles));
}

void LoadWindow::Keep(uint64_t tsc, const std::vector<Core>& now) {
  Sample sample{tsc, {}, std::vector<std::map<uint64_t, uint64_t>>(now.size())};
  for (size_t c = 0; c < now.size(); ++c) {
    sample.core_cycles.push_back(now[c].cycles);
    for (const Queue& queue : now[c].queues) sample.queue_cycles[c][queue.id] = queue.busy_cycles;
  }
  // Frequent readers do not pile up samples: the newest is only a placeholder until
  // an interval has passed since the one before it.
  if (kept_.size() >= 2 && tsc - kept_[kept_.size() - 2].tsc < interval_) {
    kept_.back() = std::move(sample);
  } else {
    kept_.push_back(std::move(sample));
  }
  // The oldest is needed only while no later sample is a full window old.
  while (kept_.size() >= 2 && tsc - kept_[1].tsc >= window_) kept_.pop_front();
}

}  // namespace vhostd
