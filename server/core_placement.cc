// PortManager's polling-core placement: pins, assignment mode and isolation (the
// planner's AssignOptions), rebalancing with a dry run, and the idle-sleep bound, like
// OVS's pmd-rxq-affinity, pmd-rxq-assign, pmd-rxq-isolate, pmd-rxq-rebalance and
// pmd-sleep-max.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/log.h"
#include "server/names.h"
#include "server/port_manager.h"

namespace vhostd {
namespace {

AssignMode ModeOf(vhostd::v1::AssignMode mode) {
  switch (mode) {
    case vhostd::v1::ASSIGN_MODE_GROUP:
      return AssignMode::kGroup;
    case vhostd::v1::ASSIGN_MODE_ROUNDROBIN:
      return AssignMode::kRoundRobin;
    default:
      return AssignMode::kCycles;
  }
}

// lcore -> index in `cores` (as in Apply).
std::map<uint32_t, size_t> CoreIndices(const std::vector<CoreInfo>& cores) {
  std::map<uint32_t, size_t> index;
  for (size_t i = 0; i < cores.size(); ++i) index[cores[i].lcore] = i;
  return index;
}

std::string LcoreList(const std::vector<CoreInfo>& cores) {
  std::vector<uint32_t> lcores;
  for (const CoreInfo& core : cores) lcores.push_back(core.lcore);
  return absl::StrJoin(lcores, ", ");
}

vhostd::state::JournalRecord PinRecord(const std::string& port, uint16_t queue, std::optional<uint32_t> lcore) {
  vhostd::state::JournalRecord change;
  vhostd::v1::QueuePin* pin = lcore ? change.mutable_put_pin() : change.mutable_delete_pin();
  pin->set_port(port);
  pin->set_queue(queue);
  if (lcore) pin->set_lcore(*lcore);
  return change;
}

}  // namespace

vhostd::v1::CoreSettings DefaultCoreSettings() {
  vhostd::v1::CoreSettings settings;
  settings.set_assign_mode(vhostd::v1::ASSIGN_MODE_CYCLES);
  settings.set_isolate_pinned(true);
  return settings;
}

void PortManager::SetCoreDefaults(const vhostd::v1::CoreSettings& settings) {
  absl::MutexLock lock(&mu_);
  core_settings_ = settings;
  if (core_settings_.assign_mode() == vhostd::v1::ASSIGN_MODE_UNSPECIFIED) {
    core_settings_.set_assign_mode(vhostd::v1::ASSIGN_MODE_CYCLES);
  }
  engine_->SetSleepMax(core_settings_.sleep_max_us());
}

AssignOptions PortManager::AssignOptionsFor(const std::vector<CoreInfo>& cores, bool rebalance) const {
  AssignOptions options;
  options.mode = ModeOf(core_settings_.assign_mode());
  options.isolate_pinned = core_settings_.isolate_pinned();
  options.rebalance = rebalance;
  const std::map<uint32_t, size_t> index = CoreIndices(cores);
  for (const auto& [queue, lcore] : pins_) {
    auto it = index.find(lcore);
    if (it != index.end()) options.pins[queue] = it->second;  // else: that lcore does not poll now
  }
  return options;
}

absl::StatusOr<vhostd::v1::QueuePin> PortManager::PinQueue(const vhostd::v1::QueuePin& pin) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(pin.port(), "pin.port"); !s.ok()) return s;
  if (absl::Status s = CheckNotSaving(pin.port(), "pin.port"); !s.ok()) return s;
  auto port = ports_.find(pin.port());
  if (port == ports_.end()) return absl::NotFoundError(absl::StrCat("pin.port: port ", pin.port(), " does not exist"));
  if (!port->second.backend) {
    return absl::FailedPreconditionError(
        absl::StrCat("pin.port: port ", pin.port(), " is not open (", port->second.error, ")"));
  }
  const uint16_t queues = port->second.backend->counted_queues();
  if (pin.queue() >= queues) {
    return absl::InvalidArgumentError(
        absl::StrCat("pin.queue: port ", pin.port(), " has ", queues, " queues (0..", queues - 1, "), not ", pin.queue()));
  }
  const std::vector<CoreInfo> cores = engine_->Cores();
  if (!CoreIndices(cores).count(pin.lcore())) {
    return absl::InvalidArgumentError(
        absl::StrCat("pin.lcore: ", pin.lcore(), " is not a polling lcore (they are ", LcoreList(cores), ")"));
  }
  const RxQueueKey key{pin.port(), static_cast<uint16_t>(pin.queue())};
  auto old = pins_.find(key);
  if (old != pins_.end() && old->second == pin.lcore()) return pin;  // as it is
  const std::optional<uint32_t> previous = old == pins_.end() ? std::nullopt : std::optional<uint32_t>(old->second);
  auto undo = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (previous) {
      pins_[key] = *previous;
    } else {
      pins_.erase(key);
    }
  };
  pins_[key] = pin.lcore();
  if (absl::Status s = CommitForwardingChange(PinRecord(pin.port(), key.second, pin.lcore()), "queue not pinned", undo);
      !s.ok()) {
    return s;
  }
  VHOSTD_LOG_INFO("pinned rx queue ", key.second, " of ", key.first, " to lcore ", pin.lcore());
  return pin;
}

absl::Status PortManager::UnpinQueue(const vhostd::v1::UnpinQueueRequest& request) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(request.port(), "port"); !s.ok()) return s;
  const RxQueueKey key{request.port(), static_cast<uint16_t>(request.queue())};
  auto it = request.queue() <= UINT16_MAX ? pins_.find(key) : pins_.end();
  if (it == pins_.end()) {
    if (request.allow_missing()) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("queue: rx queue ", request.queue(), " of ", request.port(), " is not pinned"));
  }
  const uint32_t lcore = it->second;
  pins_.erase(it);
  auto undo = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { pins_[key] = lcore; };
  return CommitForwardingChange(PinRecord(key.first, key.second, std::nullopt), "queue not unpinned", undo);
}

void PortManager::DropPinsOf(const std::string& port) {
  for (auto it = pins_.begin(); it != pins_.end();) {
    it = it->first.first == port ? pins_.erase(it) : std::next(it);
  }
}

absl::StatusOr<vhostd::v1::RebalanceCoresResponse> PortManager::RebalanceCores(bool dry_run) {
  absl::MutexLock lock(&mu_);
  Plan plan = CurrentPlan();
  const std::vector<CoreInfo> cores = engine_->Cores();
  const CurrentAssignment current = AssignmentOf(cores);
  std::vector<CoreProgram> programs =
      AssignToCores(plan.units, engine_->core_count(), current, AssignOptionsFor(cores, /*rebalance=*/true));
  vhostd::v1::RebalanceCoresResponse response;
  for (const QueueMove& move : MovesBetween(current, programs)) {
    vhostd::v1::QueueMove* out = response.add_moves();
    out->set_port(move.queue.first);
    out->set_queue(move.queue.second);
    out->set_from_lcore(cores[move.from].lcore);
    out->set_to_lcore(cores[move.to].lcore);
  }
  if (dry_run) return response;
  if (absl::Status s = Install(std::move(programs), std::move(plan)); !s.ok()) {
    Reprogram().IgnoreError();  // back to a plan every core takes, if it can be had
    return absl::UnavailableError(absl::StrCat("rebalance: the data plane did not take it: ", s.message()));
  }
  response.set_applied(true);
  VHOSTD_LOG_INFO("rebalanced the polling cores: ", response.moves_size(), " rx queues moved");
  return response;
}

vhostd::v1::CoreSettings PortManager::GetCoreSettings() {
  absl::MutexLock lock(&mu_);
  return core_settings_;
}

absl::StatusOr<vhostd::v1::CoreSettings> PortManager::UpdateCoreSettings(
    const vhostd::v1::UpdateCoreSettingsRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!vhostd::v1::AssignMode_IsValid(request.assign_mode())) {
    return absl::InvalidArgumentError(absl::StrCat("assign_mode: unknown value ", request.assign_mode()));
  }
  if (request.has_sleep_max_us() && request.sleep_max_us() > kMaxIdleSleepUs) {
    return absl::InvalidArgumentError(
        absl::StrCat("sleep_max_us: ", request.sleep_max_us(), " is above the limit of ", kMaxIdleSleepUs));
  }
  const vhostd::v1::CoreSettings before = core_settings_;
  if (request.assign_mode() != vhostd::v1::ASSIGN_MODE_UNSPECIFIED) core_settings_.set_assign_mode(request.assign_mode());
  if (request.has_isolate_pinned()) core_settings_.set_isolate_pinned(request.isolate_pinned());
  if (request.has_sleep_max_us()) core_settings_.set_sleep_max_us(request.sleep_max_us());
  if (core_settings_.isolate_pinned() != before.isolate_pinned()) {
    // Isolation decides where unpinned queues may run: apply it now.
    if (absl::Status s = Reprogram(); !s.ok()) {
      core_settings_ = before;
      Reprogram().IgnoreError();
      return absl::UnavailableError(absl::StrCat("settings not changed: the data plane did not take them: ", s.message()));
    }
  }
  engine_->SetSleepMax(core_settings_.sleep_max_us());
  return core_settings_;
}

}  // namespace vhostd
