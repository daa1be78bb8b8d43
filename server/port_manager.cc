#include "server/port_manager.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/bridge_config.h"
#include "server/label_selector.h"
#include "server/log.h"
#include "server/names.h"
#include "server/pagination.h"
#include "server/plugin_messages.h"
#include "server/port_labels.h"
#include "server/port_status.h"
#include "server/stored_port.h"

namespace vhostd {

using google::protobuf::util::MessageDifferencer;
using vhostd::v1::CrossConnect;
using vhostd::v1::Port;
using vhostd::v1::PortStats;
using vhostd::v1::PortStatus;

namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

// Names are unique, and every cross-connect joins two distinct existing ports that are
// in no other cross-connect.
absl::Status CheckConsistent(const vhostd::state::DesiredState& state) {
  std::set<std::string> ports, xconnects, joined, bridges;
  for (const google::protobuf::Struct& port : state.ports()) {
    const std::string name = StoredString(port, "name");
    if (!ports.insert(name).second) return absl::DataLossError(absl::StrCat("port ", name, " twice"));
  }
  for (const CrossConnect& x : state.cross_connects()) {
    if (!xconnects.insert(x.name()).second) {
      return absl::DataLossError(absl::StrCat("cross-connect ", x.name(), " twice"));
    }
    if (x.port_a() == x.port_b() || !ports.count(x.port_a()) || !ports.count(x.port_b()) ||
        !joined.insert(x.port_a()).second || !joined.insert(x.port_b()).second) {
      return absl::DataLossError(absl::StrCat("cross-connect ", x.name(), " joins missing or already joined ports"));
    }
  }
  for (const vhostd::v1::Bridge& b : state.bridges()) {
    if (!bridges.insert(b.name()).second) return absl::DataLossError(absl::StrCat("bridge ", b.name(), " twice"));
    if (absl::Status s = NormalizeStoredBridge(b).status(); !s.ok()) return absl::DataLossError(s.message());
    for (const vhostd::v1::BridgePort& p : b.ports()) {
      if (!ports.count(p.port()) || !joined.insert(p.port()).second) {
        return absl::DataLossError(absl::StrCat("bridge ", b.name(), " has missing or already joined port ", p.port()));
      }
    }
  }
  std::set<std::string> pins;
  for (const vhostd::v1::QueuePin& pin : state.pins()) {
    if (!ports.count(pin.port()) || pin.queue() > UINT16_MAX || !pins.insert(PinName(pin)).second) {
      return absl::DataLossError(absl::StrCat("pin ", PinName(pin), " of a missing port, out of range or twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void PortManager::PortEntry::SetTypedSpec(PortPlugin* port_plugin,
                                          std::unique_ptr<google::protobuf::Message> port_spec) {
  plugin = port_plugin;
  typed_spec = std::move(port_spec);
  resource = plugin != nullptr && typed_spec != nullptr ? plugin->ExclusiveResource(*typed_spec) : "";
}

PortManager::PortManager(PluginRegistry* plugins, ForwardingEngine* engine, StateStore* store,
                         PluginContext context)
    : plugins_(plugins), engine_(engine), store_(store), context_([&] {
        context.events = this;  // ports tell the reconciler when their frontend changes
        return context;
      }()) {}

PortManager::~PortManager() {
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = true;
  }
  if (reconciler_.joinable()) reconciler_.join();
  absl::MutexLock lock(&mu_);
  // Cores must let go of every port before the ports close.
  if (absl::Status s = engine_->Apply({}); !s.ok()) VHOSTD_LOG_ERROR("stopping forwarding: ", s.ToString());
  // A clean stop leaves one snapshot and an empty journal (the state as one readable
  // file); if this fails the journal still holds everything.
  if (absl::Status s = store_->Save(CurrentState()); !s.ok()) VHOSTD_LOG_ERROR("saving state at exit: ", s.ToString());
  ports_.clear();
}

absl::Status PortManager::Restore() {
  absl::StatusOr<vhostd::state::DesiredState> state = store_->Load();
  if (!state.ok()) return state.status();
  if (absl::Status consistent = CheckConsistent(*state); !consistent.ok()) {
    return absl::DataLossError(absl::StrCat("state file ", store_->path(), " is inconsistent (", consistent.message(),
                                            "); it was left untouched: fix or move it away to start afresh"));
  }
  absl::MutexLock lock(&mu_);
  for (const google::protobuf::Struct& stored : state->ports()) {
    PortEntry entry = RestorePort(stored);
    const std::string name = entry.spec.name();
    ports_[name] = std::move(entry);
  }
  for (const CrossConnect& xconnect : state->cross_connects()) xconnects_[xconnect.name()] = xconnect;
  for (const vhostd::v1::Bridge& bridge : state->bridges()) {
    bridges_.try_emplace(bridge.name(), *NormalizeStoredBridge(bridge), engine_->tsc_hz() / 1000);
  }
  for (const vhostd::v1::QueuePin& pin : state->pins()) pins_[{pin.port(), static_cast<uint16_t>(pin.queue())}] = pin.lcore();
  if (store_->loaded_format_version() != 0 && store_->loaded_format_version() < kStateFormatVersion) {
    // Migrated on load: written back at once in today's format (the journal appends to it).
    if (absl::Status s = store_->Save(CurrentState()); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("rewriting ", store_->path(), " in today's format: ", s.message()));
    }
    VHOSTD_LOG_INFO("state file ", store_->path(), " rewritten in format ", kStateFormatVersion);
  }
  VHOSTD_LOG_INFO("restored ", ports_.size(), " ports, ", xconnects_.size(), " cross-connects and ", bridges_.size(),
                  " bridges from ", store_->path());
  Reprogram().IgnoreError();  // logged; the desired state stands, and ports a core may poll stay pinned
  // Restored ports are no news: the stream reports how they change from here on.
  const QueueCores cores = RxQueueCores();
  for (auto& [name, entry] : ports_) entry.reported = Describe(entry, cores).status();
  return absl::OkStatus();
}

PortManager::PortEntry PortManager::RestorePort(const google::protobuf::Struct& stored) {
  PortEntry entry;
  entry.stored = stored;
  entry.spec.set_name(StoredString(stored, "name"));
  entry.spec.set_type(StoredString(stored, "type"));
  *entry.spec.mutable_labels() = StoredLabels(stored);
  absl::Status valid;
  if (!StoredSpecTypeKnown(stored) || plugins_->Find(entry.spec.type()) == nullptr) {
    // Kept as stored; served again by a daemon that has the plugin.
    valid = absl::FailedPreconditionError(absl::StrCat("plugin ", entry.spec.type(), " not loaded (spec ",
                                                       StoredSpecType(stored), ")"));
  } else if (absl::StatusOr<Port> port = ParseStoredPort(stored); !port.ok()) {
    valid = port.status();  // and never retried: the file's text is wrong
  } else if (absl::StatusOr<ValidPort> checked = ValidatePortSpec(*port); !checked.ok()) {
    entry.spec = *port;
    entry.plugin = plugins_->Find(entry.spec.type());  // retried: the plugin may become available
    valid = checked.status();
  } else {
    entry.spec = checked->port;
    ++entry.open_attempts;
    absl::StatusOr<std::unique_ptr<PortBackend>> backend = OpenPort(*checked);
    entry.SetTypedSpec(checked->plugin, std::move(checked->spec));
    if (backend.ok()) {
      entry.backend = std::move(*backend);
    } else {
      valid = backend.status();
    }
  }
  if (!valid.ok()) {
    entry.error = absl::StrCat("restoring from ", store_->path(), ": ", valid.message());
    entry.next_retry = absl::Now() + entry.retry_backoff;  // the reconciler retries (those with a plugin)
    VHOSTD_LOG_ERROR("port ", entry.spec.name(), ": ", entry.error);
  }
  return entry;
}

absl::StatusOr<std::string> PortManager::ResolvePortType(const Port& port) const {
  const std::string spec_type = port.has_spec() ? std::string(port.spec().type_url().substr(
                                                      port.spec().type_url().find_last_of('/') + 1))
                                                : "";
  if (port.has_spec() && spec_type.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("port.spec: type_url \"", LimitForMessage(port.spec().type_url()),
                                                   "\" names no message"));
  }
  const std::string type = port.type().empty() ? plugins_->TypeOfSpec(spec_type) : port.type();
  if (port.type().empty() && !port.has_spec()) {
    return absl::InvalidArgumentError(absl::StrCat("port.type: required (one of ", LoadedTypes(*plugins_), ")"));
  }
  if (type.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("port.spec: ", LimitForMessage(spec_type),
                                                   " is the spec of no loaded plugin (", LoadedTypes(*plugins_), ")"));
  }
  PortPlugin* plugin = plugins_->Find(type);
  if (plugin == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("port.type: unknown port type \"", LimitForMessage(type),
                                                   "\" (this vhostd serves ", LoadedTypes(*plugins_), ")"));
  }
  if (port.has_spec() && spec_type != plugin->spec_type()->full_name()) {
    return absl::InvalidArgumentError(absl::StrCat("port.spec: is a ", LimitForMessage(spec_type), "; port type ",
                                                   type, " takes a ", plugin->spec_type()->full_name()));
  }
  return type;
}

// Validates everything about a port request that does not depend on other ports, and
// normalizes the spec (through its plugin).
absl::StatusOr<PortManager::ValidPort> PortManager::ValidatePortSpec(Port port) {
  if (absl::Status s = ValidateName(port.name(), "port.name"); !s.ok()) return s;
  if (absl::Status s = ValidateLabels(port.labels(), "port.labels"); !s.ok()) return s;
  absl::StatusOr<std::string> type = ResolvePortType(port);
  if (!type.ok()) return type.status();
  PortPlugin* plugin = plugins_->Find(*type);
  if (absl::Status s = plugin->CheckAvailable(); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("port type ", *type, " is unavailable here: ", s.message()));
  }
  ValidPort valid;
  valid.plugin = plugin;
  valid.spec.reset(google::protobuf::MessageFactory::generated_factory()->GetPrototype(plugin->spec_type())->New());
  if (port.has_spec() && !valid.spec->ParseFromString(port.spec().value())) {
    return absl::InvalidArgumentError(
        absl::StrCat("port.spec: not a valid ", plugin->spec_type()->full_name(), " (it does not parse)"));
  }
  if (!valid.spec->GetReflection()->GetUnknownFields(*valid.spec).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("port.spec: has fields that ", plugin->spec_type()->full_name(),
                                                   " does not define (a client built for another version?)"));
  }
  if (absl::Status s = plugin->Normalize(port.name(), *valid.spec); !s.ok()) {
    return InSpec(s, *plugin->spec_type());
  }
  valid.port.set_name(port.name());
  valid.port.set_type(*type);
  valid.port.mutable_spec()->PackFrom(*valid.spec, kTypeUrlPrefix);
  *valid.port.mutable_labels() = port.labels();
  return valid;
}

absl::StatusOr<std::unique_ptr<PortBackend>> PortManager::OpenPort(const ValidPort& port) {
  absl::StatusOr<std::unique_ptr<PortBackend>> backend =
      port.plugin->Open(port.port.name(), *port.spec, context_);
  if (!backend.ok()) return InSpec(backend.status(), *port.plugin->spec_type());
  return backend;
}

absl::StatusOr<Port> PortManager::CreatePort(Port request) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<ValidPort> valid = ValidatePortSpec(std::move(request));
  if (!valid.ok()) return valid.status();
  const Port& port = valid->port;
  if (auto it = ports_.find(port.name()); it != ports_.end()) {
    PortEntry& entry = it->second;
    if (entry.plugin == valid->plugin && entry.typed_spec &&
        MessageDifferencer::Equals(*entry.typed_spec, *valid->spec)) {
      if (!SameLabels(entry.spec.labels(), port.labels())) {
        return absl::AlreadyExistsError(absl::StrCat("port.labels: port ", port.name(), " exists with other labels"));
      }
      // A retry. A port in ERROR is reopened now: the caller may have fixed what was wrong.
      if (!entry.backend && !Reopen(entry)) return absl::FailedPreconditionError(entry.error);
      return Describe(entry, RxQueueCores());
    }
    return absl::AlreadyExistsError(absl::StrCat("port.name: port ", port.name(), " exists with a different spec"));
  }
  if (absl::Status s = CheckNotSaving(port.name(), "port.name"); !s.ok()) return s;
  const std::string resource = valid->plugin->ExclusiveResource(*valid->spec);
  if (!resource.empty()) {
    auto uses = [&](const PortPlugin* plugin, const std::string& other) {
      return plugin == valid->plugin && other == resource;
    };
    for (const auto& [name, other] : ports_) {
      if (!uses(other.plugin, other.resource)) continue;
      return absl::FailedPreconditionError(absl::StrCat("port.spec: ", resource, " is already used by port ", name));
    }
    for (const auto& [name, saving] : saving_) {
      if (!uses(saving.plugin, saving.resource)) continue;
      return absl::FailedPreconditionError(
          absl::StrCat("port.spec: ", resource, " is already used by port ", name, " (being created)"));
    }
  }
  if (absl::Status room = CheckRoomForPort(capacity_, ports_.size() + CreatesBeingSaved(), *valid->spec); !room.ok()) {
    return room;
  }
  absl::StatusOr<google::protobuf::Struct> stored = StorePort(port);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::unique_ptr<PortBackend>> backend = OpenPort(*valid);
  if (!backend.ok()) return backend.status();
  vhostd::state::JournalRecord change;
  *change.mutable_put_port() = *stored;
  // Written now, durable after the wait; meanwhile the name and the resource are taken.
  const absl::StatusOr<uint64_t> seq = WriteChange(change);
  absl::Status saved = seq.status();
  if (seq.ok()) {
    saving_[port.name()] = SavingPort{false, valid->plugin, resource, *stored};
    saved = WaitDurableUnlocked(*seq);
    saving_.erase(port.name());
    if (!saved.ok()) RecoverAfterFailedSync();
  }
  if (!saved.ok()) {
    return absl::UnavailableError(absl::StrCat("port not created: saving state failed: ", saved.message()));
  }
  PortEntry& entry = ports_[port.name()];
  entry.spec = port;
  entry.SetTypedSpec(valid->plugin, std::move(valid->spec));
  entry.stored = std::move(*stored);
  entry.backend = std::move(*backend);
  VHOSTD_LOG_INFO("created port ", entry.spec.name(), " (", entry.spec.type(), ")");
  Port created = Describe(entry, RxQueueCores());
  entry.reported = created.status();
  vhostd::v1::Event event;
  *event.mutable_port_created()->mutable_port() = created;
  Publish(std::move(event));
  return created;
}

void PortManager::SetCapacity(const Capacity& capacity) {
  absl::MutexLock lock(&mu_);
  capacity_ = capacity;
}

absl::StatusOr<Port> PortManager::GetPort(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(name, "name"); !s.ok()) return s;
  auto it = ports_.find(name);
  if (it == ports_.end()) return absl::NotFoundError(absl::StrCat("port ", name, " does not exist"));
  return Describe(it->second, RxQueueCores());
}

absl::StatusOr<vhostd::v1::ListPortsResponse> PortManager::ListPorts(const vhostd::v1::ListPortsRequest& request) {
  absl::StatusOr<Page> page = ResolvePage(request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(request.label_selector(), "label_selector");
  if (!selector.ok()) return selector.status();
  absl::MutexLock lock(&mu_);
  vhostd::v1::ListPortsResponse response;
  const QueueCores cores = RxQueueCores();
  std::map<std::string, const PortEntry*> selected;
  for (const auto& [name, entry] : ports_) {
    if (selector->Matches(entry.spec.labels())) selected.emplace(name, &entry);
  }
  for (const PortEntry* const* entry : TakePage(selected, *page, response.mutable_next_page_token())) {
    *response.add_ports() = Describe(**entry, cores);
  }
  return response;
}

absl::Status PortManager::DeletePort(const std::string& name, bool allow_missing) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(name, "name"); !s.ok()) return s;
  auto it = ports_.find(name);
  if (it == ports_.end()) {
    return allow_missing ? absl::OkStatus() : absl::NotFoundError(absl::StrCat("port ", name, " does not exist"));
  }
  if (const CrossConnect* xconnect = CrossConnectOf(name)) {
    return absl::FailedPreconditionError(
        absl::StrCat("port ", name, " is part of cross-connect ", xconnect->name(), "; delete that first"));
  }
  if (const BridgeRuntime* bridge = BridgeOf(name)) {
    return absl::FailedPreconditionError(
        absl::StrCat("port ", name, " is in bridge ", bridge->name(), "; remove it from there first"));
  }
  if (possibly_polled_.count(name)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "port ", name, " may still be polled: a polling core did not acknowledge its new program; retry later"));
  }
  if (absl::Status s = CheckNotSaving(name, "name"); !s.ok()) return s;
  vhostd::state::JournalRecord change;
  change.set_delete_port(name);
  // Written now, durable after the wait; meanwhile no other change may touch the port.
  const absl::StatusOr<uint64_t> seq = WriteChange(change);
  absl::Status saved = seq.status();
  if (seq.ok()) {
    saving_[name] = SavingPort{true, nullptr, "", {}};
    saved = WaitDurableUnlocked(*seq);
    saving_.erase(name);
    if (!saved.ok()) RecoverAfterFailedSync();
  }
  if (!saved.ok()) {
    return absl::UnavailableError(absl::StrCat("port not deleted: saving state failed: ", saved.message()));
  }
  it = ports_.find(name);  // still there: a change to it waited for the save
  vhostd::v1::Event event;
  event.mutable_port_deleted()->set_port(name);
  *event.mutable_port_deleted()->mutable_labels() = it->second.spec.labels();
  ports_.erase(it);  // no core polls it: it is in no cross-connect
  DropPinsOf(name);
  VHOSTD_LOG_INFO("deleted port ", name);
  Publish(std::move(event));
  return absl::OkStatus();
}

absl::StatusOr<PortStats> PortManager::GetPortStats(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(name, "name"); !s.ok()) return s;
  auto it = ports_.find(name);
  if (it == ports_.end()) return absl::NotFoundError(absl::StrCat("port ", name, " does not exist"));
  return Stats(it->second);
}

vhostd::v1::StatsSample PortManager::SampleStats(const std::string& port) {
  vhostd::v1::StatsSample sample;
  {
    absl::MutexLock lock(&mu_);
    if (!port.empty()) {
      if (auto it = ports_.find(port); it != ports_.end()) *sample.add_ports() = Stats(it->second);
      return sample;
    }
    for (const auto& [name, entry] : ports_) *sample.add_ports() = Stats(entry);
  }
  *sample.mutable_cores() = std::move(*ListCores().mutable_cores());
  return sample;
}

absl::Status PortManager::ValidateCrossConnect(const CrossConnect& xconnect) {
  if (absl::Status s = ValidateName(xconnect.name(), "cross_connect.name"); !s.ok()) return s;
  if (absl::Status s = ValidateName(xconnect.port_a(), "cross_connect.port_a"); !s.ok()) return s;
  if (absl::Status s = ValidateName(xconnect.port_b(), "cross_connect.port_b"); !s.ok()) return s;
  if (xconnect.port_a() == xconnect.port_b()) {
    return absl::InvalidArgumentError("cross_connect.port_b: must differ from port_a");
  }
  for (const std::string* port : {&xconnect.port_a(), &xconnect.port_b()}) {
    if (!ports_.count(*port)) {
      return absl::NotFoundError(absl::StrCat("cross_connect.", port == &xconnect.port_a() ? "port_a" : "port_b",
                                              ": port ", *port, " does not exist"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CrossConnect> PortManager::CreateCrossConnect(CrossConnect xconnect) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateCrossConnect(xconnect); !s.ok()) return s;
  if (auto it = xconnects_.find(xconnect.name()); it != xconnects_.end()) {
    if (MessageDifferencer::Equals(it->second, xconnect)) return it->second;
    return absl::AlreadyExistsError(
        absl::StrCat("cross_connect.name: cross-connect ", xconnect.name(), " exists with different ports"));
  }
  for (const std::string& port : {xconnect.port_a(), xconnect.port_b()}) {
    if (const CrossConnect* other = CrossConnectOf(port)) {
      return absl::FailedPreconditionError(
          absl::StrCat("port ", port, " is already part of cross-connect ", other->name()));
    }
    const std::string field = port == xconnect.port_a() ? "cross_connect.port_a" : "cross_connect.port_b";
    if (absl::Status s = CheckPortFree(port, field); !s.ok()) return s;
  }
  xconnects_[xconnect.name()] = xconnect;
  const auto undo = [&] { xconnects_.erase(xconnect.name()); };
  vhostd::state::JournalRecord change;
  *change.mutable_put_cross_connect() = xconnect;
  if (absl::Status s = CommitForwardingChange(change, "cross-connect not created", undo); !s.ok()) return s;
  VHOSTD_LOG_INFO("created cross-connect ", xconnect.name(), ": ", xconnect.port_a(), " <-> ", xconnect.port_b());
  vhostd::v1::Event event;
  *event.mutable_cross_connect_created()->mutable_cross_connect() = xconnect;
  Publish(std::move(event));
  return xconnect;
}

absl::Status PortManager::DeleteCrossConnect(const std::string& name, bool allow_missing) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateName(name, "name"); !s.ok()) return s;
  auto it = xconnects_.find(name);
  if (it == xconnects_.end()) {
    return allow_missing ? absl::OkStatus()
                         : absl::NotFoundError(absl::StrCat("cross-connect ", name, " does not exist"));
  }
  const CrossConnect removed = it->second;
  xconnects_.erase(it);
  const auto undo = [&] { xconnects_[name] = removed; };
  vhostd::state::JournalRecord change;
  change.set_delete_cross_connect(name);
  if (absl::Status s = CommitForwardingChange(change, "cross-connect not deleted", undo); !s.ok()) return s;
  VHOSTD_LOG_INFO("deleted cross-connect ", name);
  vhostd::v1::Event event;
  *event.mutable_cross_connect_deleted()->mutable_cross_connect() = removed;
  Publish(std::move(event));
  return absl::OkStatus();
}

absl::StatusOr<vhostd::v1::ListCrossConnectsResponse> PortManager::ListCrossConnects(
    const vhostd::v1::ListCrossConnectsRequest& request) {
  absl::StatusOr<Page> page = ResolvePage(request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  absl::MutexLock lock(&mu_);
  vhostd::v1::ListCrossConnectsResponse response;
  for (const CrossConnect* xconnect : TakePage(xconnects_, *page, response.mutable_next_page_token())) {
    *response.add_cross_connects() = *xconnect;
  }
  return response;
}

vhostd::v1::ListPluginsResponse PortManager::ListPlugins() {
  vhostd::v1::ListPluginsResponse response;
  for (const RegisteredPlugin& plugin : plugins_->All()) {
    const PluginInfo& info = plugin.info;
    vhostd::v1::Plugin* out = response.add_plugins();
    out->set_port_type(info.port_type);
    out->set_version(info.version);
    out->set_description(info.description);
    out->set_file(info.file);
    out->set_abi_version(info.abi_version);
    DescribeMessages(*plugin.plugin, out);
    const absl::Status available = plugin.plugin->CheckAvailable();
    out->set_available(available.ok());
    out->set_unavailable_reason(std::string(available.message()));
  }
  return response;
}

vhostd::v1::ListCoresResponse PortManager::ListCores() {
  absl::MutexLock lock(&mu_);
  vhostd::v1::ListCoresResponse response;
  for (const CoreInfo& info : engine_->Cores()) {
    vhostd::v1::Core* core = response.add_cores();
    core->set_lcore(info.lcore);
    core->set_cpu(info.cpu);
    core->set_busy_cycles(info.busy_cycles);
    core->set_idle_cycles(info.idle_cycles);
    core->set_sleep_cycles(info.sleep_cycles);
    core->set_packets(info.packets);
    uint64_t bursts = 0;
    for (uint64_t count : info.batch_sizes) bursts += count;
    core->set_bursts(bursts);
    for (size_t i = 0; i < info.queues.size(); ++i) {
      const PollLabel& label = info.queues[i];
      vhostd::v1::PolledQueue* queue = core->add_queues();
      queue->set_port(label.rx_port);
      queue->set_queue(label.rx_queue);
      queue->set_forwards_to(label.tx_port);
      queue->set_pinned(pins_.count({label.rx_port, label.rx_queue}) > 0);
      if (queue->pinned() && core_settings_.isolate_pinned()) core->set_isolated(true);
      if (i >= info.loads.size()) continue;
      queue->set_busy_cycles(info.loads[i].busy_cycles);
      if (info.loads[i].share) queue->set_share_percent(*info.loads[i].share * 100);
    }
  }
  for (const auto& [queue, lcore] : pins_) {
    vhostd::v1::QueuePin* pin = response.add_pins();
    pin->set_port(queue.first);
    pin->set_queue(queue.second);
    pin->set_lcore(lcore);
  }
  *response.mutable_settings() = core_settings_;
  return response;
}

std::vector<PortCounterSnapshot> PortManager::SnapshotPorts() {
  absl::MutexLock lock(&mu_);
  std::vector<PortCounterSnapshot> out;
  const QueueCores cores = RxQueueCores();
  for (const auto& [name, entry] : ports_) {
    const Port described = Describe(entry, cores);
    out.push_back({name, entry.spec.type(), {entry.spec.labels().begin(), entry.spec.labels().end()}, Stats(entry),
                   described.status()});
  }
  return out;
}

PortManager::QueueCores PortManager::RxQueueCores() const {
  QueueCores cores;
  for (const CoreInfo& core : engine_->Cores()) {
    for (const PollLabel& label : core.queues) cores[{label.rx_port, label.rx_queue}] = static_cast<int>(core.lcore);
  }
  return cores;
}

size_t PortManager::CrossConnectCount() {
  absl::MutexLock lock(&mu_);
  return xconnects_.size();
}

Port PortManager::Describe(const PortEntry& entry, const QueueCores& cores) {
  Port port = entry.spec;
  PortStatus* status = port.mutable_status();
  status->set_dataplane_port_id(-1);
  if (!entry.backend) {
    status->set_state(PortStatus::ERROR);
    status->set_message(entry.error);
    return port;
  }
  FillPortStatus(*entry.backend, entry.plugin->status_type(), status);
  if (entry.stalled && status->state() == PortStatus::UP) {
    status->set_state(PortStatus::STALLED);
    status->set_message(absl::StrCat("transmit stalled since ", absl::FormatTime(entry.stalled_since),
                                     ": the frontend takes no packets and the ones for it are dropped"));
  }
  for (vhostd::v1::QueueStatus& queue : *status->mutable_queues()) {
    auto it = cores.find({entry.spec.name(), static_cast<uint16_t>(queue.queue())});
    queue.set_lcore(it == cores.end() ? -1 : it->second);
  }
  return port;
}

PortStats PortManager::Stats(const PortEntry& entry) {
  PortStats stats;
  stats.set_name(entry.spec.name());
  if (!entry.backend) return stats;
  const QueueCounters* counters = entry.backend->counters();
  uint64_t no_mbuf = 0;
  for (uint16_t q = 0; q < entry.backend->counted_queues(); ++q) {
    vhostd::v1::QueueStats* queue = stats.add_queues();
    queue->set_queue(q);
    queue->set_rx_packets(CounterRead(counters[q].rx_packets));
    queue->set_rx_bytes(CounterRead(counters[q].rx_bytes));
    queue->set_tx_packets(CounterRead(counters[q].tx_packets));
    queue->set_tx_bytes(CounterRead(counters[q].tx_bytes));
    queue->set_tx_dropped(CounterRead(counters[q].tx_dropped));
    queue->set_rx_no_mbuf(CounterRead(counters[q].rx_no_mbuf));
    no_mbuf += queue->rx_no_mbuf();
    stats.set_rx_packets(stats.rx_packets() + queue->rx_packets());
    stats.set_rx_bytes(stats.rx_bytes() + queue->rx_bytes());
    stats.set_tx_packets(stats.tx_packets() + queue->tx_packets());
    stats.set_tx_bytes(stats.tx_bytes() + queue->tx_bytes());
    stats.set_tx_dropped(stats.tx_dropped() + queue->tx_dropped());
  }
  const DriverStats driver = entry.backend->ReadDriverStats();
  stats.set_rx_errors(driver.rx_errors);
  stats.set_tx_errors(driver.tx_errors);
  stats.set_rx_no_mbuf(driver.rx_no_mbuf + no_mbuf);
  if (const BridgeRuntime* bridge = BridgeOf(entry.spec.name())) {
    stats.set_bridge(bridge->name());
    *stats.mutable_bridge_counters() = bridge->PortCounters(entry.spec.name());
  }
  return stats;
}

const CrossConnect* PortManager::CrossConnectOf(const std::string& port) const {
  for (const auto& [name, xconnect] : xconnects_) {
    if (xconnect.port_a() == port || xconnect.port_b() == port) return &xconnect;
  }
  return nullptr;
}

vhostd::state::DesiredState PortManager::CurrentState() const {
  // With the changes being saved: they are in the journal already, and a snapshot
  // replaces the journal.
  auto deleting = [this](const std::string& port) {
    auto it = saving_.find(port);
    return it != saving_.end() && it->second.deleting;
  };
  vhostd::state::DesiredState state;
  for (const auto& [name, entry] : ports_) {
    if (!deleting(name)) *state.add_ports() = entry.stored;
  }
  for (const auto& [name, saving] : saving_) {
    if (!saving.deleting) *state.add_ports() = saving.stored;
  }
  for (const auto& [name, xconnect] : xconnects_) *state.add_cross_connects() = xconnect;
  for (const auto& [name, bridge] : bridges_) *state.add_bridges() = bridge.Spec();
  for (const auto& [queue, lcore] : pins_) {
    if (deleting(queue.first)) continue;  // a port's pins go with it
    vhostd::v1::QueuePin* pin = state.add_pins();
    pin->set_port(queue.first);
    pin->set_queue(queue.second);
    pin->set_lcore(lcore);
  }
  return state;
}

absl::Status PortManager::Persist(const vhostd::state::JournalRecord& change) {
  const absl::StatusOr<uint64_t> seq = WriteChange(change);
  return seq.ok() ? store_->WaitDurable(*seq) : seq.status();
}

absl::StatusOr<uint64_t> PortManager::WriteChange(const vhostd::state::JournalRecord& change) {
  if (store_->NeedsRecovery()) {
    // An earlier sync failed: the journal is rewritten as a snapshot of the state
    // without the failed changes, once every one of them has been rolled back.
    if (!saving_.empty()) {
      return absl::UnavailableError("an earlier write of the state failed and is being rolled back; retry");
    }
    if (absl::Status s = store_->Recover(CurrentState()); !s.ok()) return s;
  }
  // Called with mu_ held (the store's callback runs inside this call).
  return store_->Write(change, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return CurrentState(); });
}

absl::Status PortManager::WaitDurableUnlocked(uint64_t seq) {
  mu_.Unlock();
  absl::Status saved = store_->WaitDurable(seq);
  mu_.Lock();
  return saved;
}

void PortManager::RecoverAfterFailedSync() {
  if (!saving_.empty() || !store_->NeedsRecovery()) return;  // the last failed change rolled back does it
  if (absl::Status s = store_->Recover(CurrentState()); !s.ok()) {
    VHOSTD_LOG_ERROR("saving state after a failed journal sync: ", s.ToString(), " (retried with the next change)");
  }
}

absl::Status PortManager::CheckNotSaving(const std::string& port, const std::string& field) const {
  auto it = saving_.find(port);
  if (it == saving_.end()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(field, ": port ", port, " is being ",
                                             it->second.deleting ? "deleted" : "created", "; retry"));
}

size_t PortManager::CreatesBeingSaved() const {
  return static_cast<size_t>(
      std::count_if(saving_.begin(), saving_.end(), [](const auto& saving) { return !saving.second.deleting; }));
}

// The data plane first: a cross-connect change is reported and saved only once every
// core took it, so neither the caller nor the state file is told of forwarding the
// cores refused.
absl::Status PortManager::CommitForwardingChange(const vhostd::state::JournalRecord& change,
                                                   const std::string& failure, const std::function<void()>& undo) {
  absl::Status status = Reprogram();
  if (status.ok()) {
    status = Persist(change);
    if (status.ok()) return absl::OkStatus();
    status = absl::UnavailableError(absl::StrCat(failure, ": saving state failed: ", status.message()));
  } else {
    status = absl::UnavailableError(absl::StrCat(failure, ": the data plane did not take it: ", status.message()));
  }
  undo();
  Reprogram().IgnoreError();  // back to the previous plan; logged if that fails too
  return status;
}

PortManager::Plan PortManager::CurrentPlan() {
  Plan plan;
  // Queue counts are read once (CurrentPlanInputs), so the plan and its record agree.
  plan.inputs = CurrentPlanInputs();
  const PlanInputs& inputs = plan.inputs;
  for (size_t i = 0; i < inputs.size(); i += 2) {  // (port_a, port_b) of each cross-connect
    PortEntry& a = ports_.at(inputs[i].first);
    PortEntry& b = ports_.at(inputs[i + 1].first);
    std::vector<ForwardingUnit> more =
        CrossConnectUnits(PortRef{a.spec.name(), a.backend->io(), inputs[i].second, a.backend->counters()},
                          PortRef{b.spec.name(), b.backend->io(), inputs[i + 1].second, b.backend->counters()});
    plan.units.insert(plan.units.end(), more.begin(), more.end());
    plan.polled.insert({a.spec.name(), b.spec.name()});
  }
  plan.bridge_inputs = CurrentBridgeInputs();
  std::vector<ForwardingUnit> bridge_units = BridgePlan(plan.views, plan.polled);
  plan.units.insert(plan.units.end(), bridge_units.begin(), bridge_units.end());
  return plan;
}

absl::Status PortManager::Reprogram() {
  Plan plan = CurrentPlan();
  // From where the cores poll now, so that a change moves only the queues it must.
  const std::vector<CoreInfo> cores = engine_->Cores();
  std::vector<CoreProgram> programs = AssignToCores(plan.units, engine_->core_count(), AssignmentOf(cores),
                                                    AssignOptionsFor(cores, /*rebalance=*/false));
  return Install(std::move(programs), std::move(plan));
}

absl::Status PortManager::Install(std::vector<CoreProgram> programs, Plan plan) {
  if (absl::Status s = engine_->Apply(std::move(programs)); !s.ok()) {
    VHOSTD_LOG_ERROR("reprogramming polling cores: ", s.ToString());
    possibly_polled_.insert(plan.polled.begin(), plan.polled.end());
    views_.insert(views_.end(), plan.views.begin(), plan.views.end());
    SetPlanStale(true);
    return s;
  }
  possibly_polled_ = std::move(plan.polled);
  views_ = std::move(plan.views);  // the cores let go of the older ones
  planned_ = std::move(plan.inputs);
  planned_bridges_ = std::move(plan.bridge_inputs);
  SetPlanStale(false);
  return absl::OkStatus();
}

void PortManager::SetPlanStale(bool stale) {
  if (stale == plan_stale_) return;
  plan_stale_ = stale;
  if (!stale) VHOSTD_LOG_INFO("every polling core runs the current plan again");
  if (health_listener_) health_listener_(!stale);
}

bool PortManager::DataplaneHealthy() {
  absl::MutexLock lock(&mu_);
  return !plan_stale_;
}

void PortManager::SetHealthListener(std::function<void(bool healthy)> listener) {
  absl::MutexLock lock(&mu_);
  health_listener_ = std::move(listener);
  if (health_listener_) health_listener_(!plan_stale_);
}

}  // namespace vhostd
