// PortManager's bridges: create, attach and detach ports, describe, and the part of
// the plan that bridges make.
#include <utility>

#include "absl/strings/str_cat.h"
#include "dataplane/bridge_plan.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/bridge_config.h"
#include "server/log.h"
#include "server/names.h"
#include "server/pagination.h"
#include "server/port_manager.h"

namespace vhostd {

using google::protobuf::util::MessageDifferencer;
using vhostd::v1::Bridge;
using vhostd::v1::BridgePort;

const BridgeRuntime* PortManager::BridgeOf(const std::string& port) const {
  for (const auto& [name, bridge] : bridges_) {
    if (bridge.Find(port)) return &bridge;
  }
  return nullptr;
}

absl::Status PortManager::CheckPortFree(const std::string& port, const std::string& field) const {
  if (absl::Status s = CheckNotSaving(port, field); !s.ok()) return s;
  if (const BridgeRuntime* bridge = BridgeOf(port)) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": port ", port, " is already in bridge ", bridge->name()));
  }
  if (const vhostd::v1::CrossConnect* xconnect = CrossConnectOf(port)) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": port ", port, " is already part of cross-connect ", xconnect->name()));
  }
  // A port whose packets never pass through vhostd (e.g. a vdpa device the kernel drives).
  if (auto it = ports_.find(port); it != ports_.end() && it->second.backend) {
    if (absl::Status s = it->second.backend->CheckForwardable(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(field, ": port ", port, " has no data path in vhostd: port.spec.",
                                                 s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BridgeRuntime*> PortManager::FindBridge(const std::string& name, const std::string& field) {
  if (absl::Status s = ValidateName(name, field); !s.ok()) return s;
  auto it = bridges_.find(name);
  if (it == bridges_.end()) return absl::NotFoundError(absl::StrCat(field, ": bridge ", name, " does not exist"));
  return &it->second;
}

absl::StatusOr<Bridge> PortManager::CreateBridge(Bridge bridge) {
  absl::StatusOr<Bridge> normalized = NormalizeBridge(bridge, "bridge");
  if (!normalized.ok()) return normalized.status();
  absl::MutexLock lock(&mu_);
  if (auto it = bridges_.find(normalized->name()); it != bridges_.end()) {
    Bridge settings = it->second.Spec();
    settings.clear_ports();
    if (MessageDifferencer::Equals(settings, *normalized)) return it->second.Describe(false);
    return absl::AlreadyExistsError(
        absl::StrCat("bridge.name: bridge ", normalized->name(), " exists with different settings"));
  }
  vhostd::state::JournalRecord change;
  *change.mutable_put_bridge() = *normalized;
  if (absl::Status saved = Persist(change); !saved.ok()) {
    return absl::UnavailableError(absl::StrCat("bridge not created: saving state failed: ", saved.message()));
  }
  // No port yet, so nothing for the data plane to do.
  auto [it, added] = bridges_.try_emplace(normalized->name(), *normalized, engine_->tsc_hz() / 1000);
  VHOSTD_LOG_INFO("created bridge ", normalized->name());
  PublishBridgeChange(normalized->name(), vhostd::v1::BridgeChanged::CREATED);
  return it->second.Describe(false);
}

absl::StatusOr<Bridge> PortManager::GetBridge(const std::string& name, bool mac_table) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<BridgeRuntime*> bridge = FindBridge(name, "name");
  if (!bridge.ok()) return bridge.status();
  return (*bridge)->Describe(mac_table);
}

absl::StatusOr<vhostd::v1::ListBridgesResponse> PortManager::ListBridges(
    const vhostd::v1::ListBridgesRequest& request) {
  absl::StatusOr<Page> page = ResolvePage(request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  absl::MutexLock lock(&mu_);
  vhostd::v1::ListBridgesResponse response;
  for (const BridgeRuntime* bridge : TakePage(bridges_, *page, response.mutable_next_page_token())) {
    *response.add_bridges() = bridge->Describe(false);
  }
  return response;
}

std::vector<Bridge> PortManager::SnapshotBridges() {
  absl::MutexLock lock(&mu_);
  std::vector<Bridge> out;
  for (const auto& [name, bridge] : bridges_) out.push_back(bridge.Describe(false));
  return out;
}

absl::Status PortManager::DeleteBridge(const std::string& name, bool allow_missing) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(name, "name"); !s.ok()) return s;
  auto node = bridges_.extract(name);
  if (node.empty()) {
    return allow_missing ? absl::OkStatus() : absl::NotFoundError(absl::StrCat("bridge ", name, " does not exist"));
  }
  const auto undo = [&] { bridges_.insert(std::move(node)); };
  vhostd::state::JournalRecord change;
  change.set_delete_bridge(name);
  if (absl::Status s = CommitForwardingChange(change, "bridge not deleted", undo); !s.ok()) return s;
  VHOSTD_LOG_INFO("deleted bridge ", name, " and detached its ", node.mapped().members().size(), " ports");
  for (const auto& [port, member] : node.mapped().members()) {
    PublishBridgeChange(name, vhostd::v1::BridgeChanged::PORT_REMOVED, port);
  }
  PublishBridgeChange(name, vhostd::v1::BridgeChanged::DELETED);
  return absl::OkStatus();
}

absl::StatusOr<BridgePort> PortManager::AddBridgePort(const std::string& bridge_name, BridgePort port) {
  absl::StatusOr<BridgePort> normalized = NormalizeBridgePort(port, "port");
  if (!normalized.ok()) return normalized.status();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<BridgeRuntime*> found = FindBridge(bridge_name, "bridge");
  if (!found.ok()) return found.status();
  BridgeRuntime& bridge = **found;
  if (!ports_.count(normalized->port())) {
    return absl::NotFoundError(absl::StrCat("port.port: port ", normalized->port(), " does not exist"));
  }
  if (const BridgeRuntime::Member* member = bridge.Find(normalized->port())) {
    if (MessageDifferencer::Equals(member->config, *normalized)) return *normalized;  // a retry
    return absl::FailedPreconditionError(absl::StrCat("port.port: port ", normalized->port(), " is already in bridge ",
                                                      bridge.name(), " with another VLAN rule; remove it first"));
  }
  if (absl::Status s = CheckPortFree(normalized->port(), "port.port"); !s.ok()) return s;
  if (bridge.Full()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("bridge: bridge ", bridge.name(), " has ", kMaxBridgePorts, " ports, the most it takes"));
  }
  bridge.Add(*normalized);
  const auto undo = [&] { bridge.Remove(normalized->port()); };
  vhostd::state::JournalRecord change;
  *change.mutable_put_bridge() = bridge.Spec();
  if (absl::Status s = CommitForwardingChange(change, "port not added", undo); !s.ok()) return s;
  VHOSTD_LOG_INFO("added port ", normalized->port(), " to bridge ", bridge.name());
  PublishBridgeChange(bridge.name(), vhostd::v1::BridgeChanged::PORT_ADDED, normalized->port());
  return *normalized;
}

absl::Status PortManager::DeleteBridgePort(const std::string& bridge_name, const std::string& port) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<BridgeRuntime*> found = FindBridge(bridge_name, "bridge");
  if (!found.ok()) return found.status();
  BridgeRuntime& bridge = **found;
  if (absl::Status s = ValidateName(port, "port"); !s.ok()) return s;
  if (!bridge.Find(port)) {
    return absl::NotFoundError(absl::StrCat("port: port ", port, " is not in bridge ", bridge.name()));
  }
  BridgeRuntime::Member removed = bridge.Remove(port);
  const auto undo = [&] { bridge.Restore(removed); };
  vhostd::state::JournalRecord change;
  *change.mutable_put_bridge() = bridge.Spec();
  if (absl::Status s = CommitForwardingChange(change, "port not removed", undo); !s.ok()) return s;
  bridge.Retire(removed);  // no core runs a view with it any more
  VHOSTD_LOG_INFO("removed port ", port, " from bridge ", bridge.name());
  PublishBridgeChange(bridge.name(), vhostd::v1::BridgeChanged::PORT_REMOVED, port);
  return absl::OkStatus();
}

PortManager::PlanInputs PortManager::CurrentBridgeInputs() const {
  PlanInputs inputs;
  for (const auto& [name, bridge] : bridges_) {
    for (const auto& [port, member] : bridge.members()) {
      const PortEntry& entry = ports_.at(port);
      if (entry.backend) inputs.emplace_back(port, entry.backend->queues());
    }
  }
  return inputs;
}

std::vector<ForwardingUnit> PortManager::BridgePlan(std::vector<std::shared_ptr<BridgeView>>& views,
                                                    std::set<std::string>& polled) {
  std::vector<ForwardingUnit> units;
  for (const auto& [name, bridge] : bridges_) {
    std::shared_ptr<BridgeView> view = bridge.MakeView([&](const std::string& port) {
      PortEntry& entry = ports_.at(port);
      if (!entry.backend) return BridgePortIo{};
      polled.insert(port);
      return BridgePortIo{entry.backend->io(), entry.backend->queues(), entry.backend->counters()};
    });
    std::vector<ForwardingUnit> more = BridgeUnits(*view);
    units.insert(units.end(), more.begin(), more.end());
    views.push_back(std::move(view));
  }
  return units;
}

}  // namespace vhostd
