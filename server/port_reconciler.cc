// PortManager's reconciler: the part of the control plane that reacts to what ports
// report rather than to API calls. Frontends connect, go away and enable or disable
// queues on lib/vhost's event thread, which may not take the manager's lock (the
// control thread holds it while waiting for that thread to unregister a socket), so
// events only wake this loop, and the loop does the work under the lock.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"
#include "server/port_manager.h"

namespace vhostd {
namespace {

constexpr absl::Duration kMaxRetryBackoff = absl::Minutes(1);
// A transmit queue that dropped packets and delivered none for this long is stalled.
constexpr absl::Duration kStallAfter = absl::Seconds(2);

}  // namespace

void PortManager::PortChanged() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

void PortManager::StartReconciler(absl::Duration period) {
  reconciler_ = std::thread([this, period] { ReconcilerLoop(period); });
}

void PortManager::ReconcilerLoop(absl::Duration period) {
  while (true) {
    {
      absl::MutexLock lock(&wake_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) { return wake_ || stop_; };
      wake_mu_.AwaitWithTimeout(absl::Condition(&woken), period);
      if (stop_) return;
      wake_ = false;
    }
    Reconcile();
  }
}

void PortManager::Reconcile() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  RetryFailedPorts(now);
  // A plan that fails is logged, marks the plan stale and is tried again next pass.
  if (plan_stale_ || CurrentPlanInputs() != planned_ || CurrentBridgeInputs() != planned_bridges_) {
    Reprogram().IgnoreError();
  }
  SampleTxStalls(now);
  PublishStatusChanges();  // after the stall sampling: STALLED is part of the state
  for (auto& [name, bridge] : bridges_) bridge.SweepMacTable();
}

PortManager::PlanInputs PortManager::CurrentPlanInputs() const {
  PlanInputs inputs;
  for (const auto& [name, xconnect] : xconnects_) {
    const PortEntry& a = ports_.at(xconnect.port_a());
    const PortEntry& b = ports_.at(xconnect.port_b());
    if (!a.backend || !b.backend) continue;
    inputs.emplace_back(a.spec.name(), a.backend->queues());
    inputs.emplace_back(b.spec.name(), b.backend->queues());
  }
  return inputs;
}

bool PortManager::Reopen(PortEntry& entry) {
  ++entry.open_attempts;
  // Validated again: a port restored in ERROR may have failed validation (a plugin
  // that was unavailable then).
  absl::StatusOr<ValidPort> valid = ValidatePortSpec(entry.spec);
  absl::StatusOr<std::unique_ptr<PortBackend>> backend = valid.ok() ? OpenPort(*valid) : valid.status();
  if (!backend.ok()) {
    entry.error = absl::StrCat(backend.status().message(), " (", entry.open_attempts, " attempts; next in ",
                               absl::FormatDuration(entry.retry_backoff), ")");
    return false;
  }
  entry.spec = std::move(valid->port);
  entry.SetTypedSpec(valid->plugin, std::move(valid->spec));
  entry.backend = std::move(*backend);
  entry.error.clear();
  entry.retry_backoff = absl::Seconds(1);
  VHOSTD_LOG_INFO("port ", entry.spec.name(), ": opened after ", entry.open_attempts, " attempts");
  return true;
}

// Ports restored in ERROR (a device that was not there yet, a socket directory that
// appeared later) come back by themselves, with exponential backoff.
void PortManager::RetryFailedPorts(absl::Time now) {
  for (auto& [name, entry] : ports_) {
    // A port without plugin waits for a daemon that has it (plugins load only at start).
    if (entry.backend || !entry.plugin || now < entry.next_retry) continue;
    if (Reopen(entry)) continue;  // the plan inputs now differ: Reconcile replans
    entry.next_retry = now + entry.retry_backoff;
    entry.retry_backoff = std::min(entry.retry_backoff * 2, kMaxRetryBackoff);
  }
}

// A stall: the transmit side keeps dropping while delivering nothing (a full ring with
// no completions). Sampled per pass; it ends as soon as one packet is delivered.
void PortManager::SampleTxStalls(absl::Time now) {
  for (auto& [name, entry] : ports_) {
    if (!entry.backend) continue;
    const QueueCounters* counters = entry.backend->counters();
    uint64_t sent = 0, dropped = 0;
    for (uint16_t q = 0; q < entry.backend->counted_queues(); ++q) {
      sent += CounterRead(counters[q].tx_packets);
      dropped += CounterRead(counters[q].tx_dropped);
    }
    const bool delivering = sent != entry.sampled_tx_packets;
    const bool dropping = dropped != entry.sampled_tx_dropped;
    entry.sampled_tx_packets = sent;
    entry.sampled_tx_dropped = dropped;
    if (delivering || !dropping) {
      if (entry.stalled) VHOSTD_LOG_INFO("port ", name, ": transmit no longer stalled");
      entry.stalled = false;
      entry.stalled_since = absl::InfiniteFuture();
      continue;
    }
    if (entry.stalled_since == absl::InfiniteFuture()) entry.stalled_since = now;
    if (!entry.stalled && now - entry.stalled_since >= kStallAfter) {
      entry.stalled = true;
      VHOSTD_LOG_ERROR("port ", name, ": transmit stalled: the frontend consumes nothing; packets are dropped");
    }
  }
}

}  // namespace vhostd
