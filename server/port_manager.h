// The control plane's model: desired ports and cross-connects, the data-plane objects
// that realise them, and the one create/delete path shared by gRPC and state restore.
// Every change is validated before any side effect, persisted before it is reported,
// and rolled back if it cannot be completed.
#ifndef VHOSTD_SERVER_PORT_MANAGER_H_
#define VHOSTD_SERVER_PORT_MANAGER_H_

#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dataplane/forwarding_engine.h"
#include "dataplane/plugin_registry.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "server/capacity.h"
#include "server/bridge_runtime.h"
#include "server/event_log.h"
#include "server/state_store.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostd {

// A read-only view of one port's counters, for exporters.
struct PortCounterSnapshot {
  std::string name;
  std::string type;
  std::map<std::string, std::string> labels;
  vhostd::v1::PortStats stats;
  vhostd::v1::PortStatus status;
};

// Placement settings without flags: cycles, pinned cores isolated, no idle sleep (as OVS).
vhostd::v1::CoreSettings DefaultCoreSettings();

class PortManager : public PortEvents {
 public:
  PortManager(PluginRegistry* plugins, ForwardingEngine* engine, StateStore* store, PluginContext context);
  ~PortManager();  // stops forwarding and closes every port; the state file is kept

  // Where changes are published (WatchEvents); null (the default): nowhere. Call before
  // Restore. Events are published under the manager's lock, so their order is the order
  // of the changes; EventLog::Publish never waits for a reader.
  void SetEventLog(EventLog* events);

  // Loads the state file and opens its ports. A port that cannot be opened, or whose
  // type no loaded plugin serves, is kept in the desired state (and in the file) and
  // shown with state ERROR. Fails only if the file is unusable.
  absl::Status Restore();

  absl::StatusOr<vhostd::v1::Port> CreatePort(vhostd::v1::Port port);
  absl::StatusOr<vhostd::v1::Port> GetPort(const std::string& name);
  absl::StatusOr<vhostd::v1::ListPortsResponse> ListPorts(const vhostd::v1::ListPortsRequest& request);
  absl::Status DeletePort(const std::string& name, bool allow_missing);
  absl::StatusOr<vhostd::v1::PortStats> GetPortStats(const std::string& name);
  // WatchEvents' samples: the stats of `port` (none if it does not exist), or with an
  // empty `port` those of every port, by name, and the cores.
  vhostd::v1::StatsSample SampleStats(const std::string& port);

  absl::StatusOr<vhostd::v1::CrossConnect> CreateCrossConnect(vhostd::v1::CrossConnect xconnect);
  absl::Status DeleteCrossConnect(const std::string& name, bool allow_missing);
  absl::StatusOr<vhostd::v1::ListCrossConnectsResponse> ListCrossConnects(
      const vhostd::v1::ListCrossConnectsRequest& request);

  // Bridges (port_manager_bridges.cc): the same rules as for cross-connects (validated
  // first, applied to the data plane, then persisted, undone if either fails).
  absl::StatusOr<vhostd::v1::Bridge> CreateBridge(vhostd::v1::Bridge bridge);
  absl::StatusOr<vhostd::v1::Bridge> GetBridge(const std::string& name, bool mac_table);
  absl::StatusOr<vhostd::v1::ListBridgesResponse> ListBridges(const vhostd::v1::ListBridgesRequest& request);
  absl::Status DeleteBridge(const std::string& name, bool allow_missing);
  absl::StatusOr<vhostd::v1::BridgePort> AddBridgePort(const std::string& bridge, vhostd::v1::BridgePort port);
  absl::Status DeleteBridgePort(const std::string& bridge, const std::string& port);
  std::vector<vhostd::v1::Bridge> SnapshotBridges();  // every bridge with counters, for exporters

  vhostd::v1::ListPluginsResponse ListPlugins();
  vhostd::v1::ListCoresResponse ListCores();

  // Polling-core placement (server/core_placement.cc), like OVS's pmd-rxq-* settings.
  // The defaults, from the daemon's flags; call before Restore.
  void SetCoreDefaults(const vhostd::v1::CoreSettings& settings);
  // Limits CreatePort enforces (capacity.h); call before serving. Restored ports are
  // kept even beyond them: they were acknowledged.
  void SetCapacity(const Capacity& capacity);
  absl::StatusOr<vhostd::v1::QueuePin> PinQueue(const vhostd::v1::QueuePin& pin);
  absl::Status UnpinQueue(const vhostd::v1::UnpinQueueRequest& request);
  absl::StatusOr<vhostd::v1::RebalanceCoresResponse> RebalanceCores(bool dry_run);
  vhostd::v1::CoreSettings GetCoreSettings();
  absl::StatusOr<vhostd::v1::CoreSettings> UpdateCoreSettings(const vhostd::v1::UpdateCoreSettingsRequest& request);
  std::vector<PortCounterSnapshot> SnapshotPorts();
  size_t CrossConnectCount();

  // Whether every polling core runs the current plan: false from an Apply that failed
  // (a core did not take its program) until one succeeds. The health service serves it.
  bool DataplaneHealthy();
  // Calls `listener` with DataplaneHealthy() now and on every change (null: none).
  // It runs under the manager's lock, on any thread, and must not call the manager.
  void SetHealthListener(std::function<void(bool healthy)> listener);

  // The reconciler (port_reconciler.cc): brings the data plane in line with what ports
  // report and retries what failed. One pass: replan if a port's active queues changed
  // (or the last plan did not take), reopen ports in ERROR whose backoff expired, and
  // update transmit-stall detection. StartReconciler runs passes on a thread, on every
  // PortChanged and at least every `period`; tests call Reconcile directly.
  void Reconcile();
  void StartReconciler(absl::Duration period = absl::Seconds(1));
  // PortEvents: wakes the reconciler. Never blocks.
  void PortChanged() override;

 private:
  // A port request that passed validation: its plugin, and its spec normalized both as
  // the plugin's message and packed in `port`.
  struct ValidPort {
    vhostd::v1::Port port;  // name, type, normalized spec; no status
    PortPlugin* plugin = nullptr;
    std::unique_ptr<google::protobuf::Message> spec;
  };
  struct PortEntry {
    vhostd::v1::Port spec;  // name, type, normalized spec, without status
    // Null for a port from the state file whose type no loaded plugin serves: it keeps
    // its place (and its `stored` form) but cannot be opened by this daemon.
    PortPlugin* plugin = nullptr;
    std::unique_ptr<google::protobuf::Message> typed_spec;  // `spec.spec` unpacked; null without plugin
    // plugin->ExclusiveResource(*typed_spec) ("" for none), kept: every create compares
    // its own with every port's.
    std::string resource;
    void SetTypedSpec(PortPlugin* port_plugin, std::unique_ptr<google::protobuf::Message> port_spec);
    google::protobuf::Struct stored;       // what the state file holds for the port
    std::unique_ptr<PortBackend> backend;  // null if the port could not be opened
    std::string error;                     // why, when backend is null
    // Reopening a port in ERROR: when next, and the wait after that (doubling).
    absl::Time next_retry = absl::InfinitePast();
    absl::Duration retry_backoff = absl::Seconds(1);
    uint64_t open_attempts = 0;
    // Transmit-stall detection: totals at the last sample, and since when the port
    // dropped without delivering anything (InfiniteFuture: it is not).
    uint64_t sampled_tx_packets = 0;
    uint64_t sampled_tx_dropped = 0;
    absl::Time stalled_since = absl::InfiniteFuture();
    bool stalled = false;
    // The status the event stream last reported (at creation, restore, or a reconciler
    // pass): the next pass publishes the events between it and the status then.
    vhostd::v1::PortStatus reported;
  };
  // (port, queue pairs polled) for both ports of every cross-connect whose ports are
  // open, a_0, b_0, a_1, b_1, ...: what a plan is built from. When this differs from
  // what the installed plan was built from, the plan is stale.
  using PlanInputs = std::vector<std::pair<std::string, uint16_t>>;

  absl::StatusOr<ValidPort> ValidatePortSpec(vhostd::v1::Port port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The plugin a port request names, by `type` or else by its spec's message type.
  absl::StatusOr<std::string> ResolvePortType(const vhostd::v1::Port& port) const;
  // Builds the entry of a port read from the state file (open, or in ERROR).
  PortEntry RestorePort(const google::protobuf::Struct& stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ValidateCrossConnect(const vhostd::v1::CrossConnect& xconnect) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<PortBackend>> OpenPort(const ValidPort& port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (port name, rx queue) -> lcore that polls it.
  using QueueCores = std::map<std::pair<std::string, uint16_t>, int>;
  QueueCores RxQueueCores() const;
  vhostd::v1::Port Describe(const PortEntry& entry, const QueueCores& cores) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  vhostd::v1::PortStats Stats(const PortEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const vhostd::v1::CrossConnect* CrossConnectOf(const std::string& port) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const BridgeRuntime* BridgeOf(const std::string& port) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why `port` cannot join a bridge or cross-connect (error naming `field`), if it cannot.
  absl::Status CheckPortFree(const std::string& port, const std::string& field) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<BridgeRuntime*> FindBridge(const std::string& name, const std::string& field)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (port, queues) of every bridge port that is open: a bridge plan is stale when it differs.
  PlanInputs CurrentBridgeInputs() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Units for every bridge, with the views they point to and the ports they poll.
  std::vector<ForwardingUnit> BridgePlan(std::vector<std::shared_ptr<BridgeView>>& views, std::set<std::string>& polled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes one change of the desired state durable (the state journal), holding mu_.
  absl::Status Persist(const vhostd::state::JournalRecord& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Group commit, for the changes orchestrators make by the thousand (creating and
  // deleting ports): the change is written to the journal under mu_, then mu_ is
  // released while it is synced, so concurrent changes share one fdatasync. Meanwhile
  // the port is in saving_, and every other change to it is refused (UNAVAILABLE).
  absl::StatusOr<uint64_t> WriteChange(const vhostd::state::JournalRecord& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WaitDurableUnlocked(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a failed sync, once the last failed change is rolled back: a new snapshot.
  void RecoverAfterFailedSync() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // UNAVAILABLE naming `field` if `port` has a change being saved.
  absl::Status CheckNotSaving(const std::string& port, const std::string& field) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t CreatesBeingSaved() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The desired state as held in memory (what a snapshot of it holds).
  vhostd::state::DesiredState CurrentState() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes what every polling core forwards and installs it; the engine's error if
  // a core did not take its new program (then it may still run the old one).
  absl::Status Reprogram() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What Reprogram plans from: the units of every cross-connect and bridge whose ports
  // are open, the inputs they came from, the bridge views they use, their ports.
  struct Plan {
    PlanInputs inputs;
    PlanInputs bridge_inputs;
    std::vector<std::shared_ptr<BridgeView>> views;
    std::set<std::string> polled;
    std::vector<ForwardingUnit> units;
  };
  Plan CurrentPlan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pins and settings for the planner, with lcores as indices of `cores`.
  AssignOptions AssignOptionsFor(const std::vector<CoreInfo>& cores, bool rebalance) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Installs `programs` (assigned from `plan`'s units) and records what they run.
  absl::Status Install(std::vector<CoreProgram> programs, Plan plan) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the pins of a deleted port (the journal's delete_port drops them too).
  void DropPinsOf(const std::string& port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPlanStale(bool stale) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // tells the listener of changes
  // Completes a change already made to xconnects_: applies it to the data plane, then
  // persists it. If either fails, `undo` reverts the change in memory, the previous
  // plan is applied again, and the error (UNAVAILABLE, prefixed with `failure`) is
  // returned.
  absl::Status CommitForwardingChange(const vhostd::state::JournalRecord& change, const std::string& failure,
                                        const std::function<void()>& undo)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PlanInputs CurrentPlanInputs() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens `entry` again (its spec is already normalized); true on success.
  bool Reopen(PortEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RetryFailedPorts(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SampleTxStalls(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReconcilerLoop(absl::Duration period);
  // Publishes what changed in every port's status since it was last reported.
  void PublishStatusChanges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes one event (stamped by the log), if there is a log.
  void Publish(vhostd::v1::Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishBridgeChange(const std::string& bridge, vhostd::v1::BridgeChanged::Change change,
                           const std::string& port = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PluginRegistry* const plugins_;
  ForwardingEngine* const engine_;
  StateStore* const store_;
  const PluginContext context_;

  absl::Mutex mu_;
  EventLog* events_ = nullptr;  // set before any other call
  std::map<std::string, PortEntry> ports_ ABSL_GUARDED_BY(mu_);
  // A port created or deleted whose journal record is not yet durable (see
  // WriteChange). A created one is not in ports_ yet: its plugin and resource keep its
  // exclusive resource taken, `stored` goes into snapshots. A deleted one is still in
  // ports_ and is left out of snapshots.
  struct SavingPort {
    bool deleting = false;
    const PortPlugin* plugin = nullptr;
    std::string resource;
    google::protobuf::Struct stored;
  };
  std::map<std::string, SavingPort> saving_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, vhostd::v1::CrossConnect> xconnects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, BridgeRuntime> bridges_ ABSL_GUARDED_BY(mu_);
  // Bridge views a polling core may run: the installed plan's, and after a failed
  // Apply the older ones too (like possibly_polled_), so none is freed under a core.
  std::vector<std::shared_ptr<BridgeView>> views_ ABSL_GUARDED_BY(mu_);
  PlanInputs planned_bridges_ ABSL_GUARDED_BY(mu_);
  // Ports a polling core may still read. Normally the ports of the installed programs;
  // after a core failed to take a new program, the old ports stay here too, so they
  // are not closed under it.
  std::set<std::string> possibly_polled_ ABSL_GUARDED_BY(mu_);
  PlanInputs planned_ ABSL_GUARDED_BY(mu_);  // what the installed plan was built from
  bool plan_stale_ ABSL_GUARDED_BY(mu_) = false;  // the last Apply failed
  std::function<void(bool healthy)> health_listener_ ABSL_GUARDED_BY(mu_);
  std::map<RxQueueKey, uint32_t> pins_ ABSL_GUARDED_BY(mu_);  // (port, queue) -> lcore
  vhostd::v1::CoreSettings core_settings_ ABSL_GUARDED_BY(mu_) = DefaultCoreSettings();
  Capacity capacity_ ABSL_GUARDED_BY(mu_);

  absl::Mutex wake_mu_;  // never held with mu_ taken after it
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread reconciler_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PORT_MANAGER_H_
