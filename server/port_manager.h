// The control plane's model: desired ports and cross-connects, the data-plane objects
// that realise them, and the one create/delete path shared by gRPC and state restore.
// Every change is validated before any side effect, persisted before it is reported,
// and rolled back if it cannot be completed.
#ifndef VHOSTD_SERVER_PORT_MANAGER_H_
#define VHOSTD_SERVER_PORT_MANAGER_H_

#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/forwarding_engine.h"
#include "dataplane/plugin_registry.h"
#include "server/state_store.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostd {

// A read-only view of one port's counters, for exporters.
struct PortCounterSnapshot {
  std::string name;
  std::string type;
  vhostd::v1::PortStats stats;
  vhostd::v1::PortStatus status;
};

class PortManager {
 public:
  PortManager(PluginRegistry* plugins, ForwardingEngine* engine, StateStore* store, PluginContext context);
  ~PortManager();  // stops forwarding and closes every port; the state file is kept

  // Loads the state file and opens its ports. A port that cannot be opened is kept in
  // the desired state and shown with state ERROR. Fails only if the file is unusable.
  absl::Status Restore();

  absl::StatusOr<vhostd::v1::Port> CreatePort(vhostd::v1::Port port);
  absl::StatusOr<vhostd::v1::Port> GetPort(const std::string& name);
  absl::StatusOr<vhostd::v1::ListPortsResponse> ListPorts(const vhostd::v1::ListPortsRequest& request);
  absl::Status DeletePort(const std::string& name, bool allow_missing);
  absl::StatusOr<vhostd::v1::PortStats> GetPortStats(const std::string& name);

  absl::StatusOr<vhostd::v1::CrossConnect> CreateCrossConnect(vhostd::v1::CrossConnect xconnect);
  absl::Status DeleteCrossConnect(const std::string& name, bool allow_missing);
  absl::StatusOr<vhostd::v1::ListCrossConnectsResponse> ListCrossConnects(
      const vhostd::v1::ListCrossConnectsRequest& request);

  vhostd::v1::ListPluginsResponse ListPlugins();
  vhostd::v1::ListCoresResponse ListCores();
  std::vector<PortCounterSnapshot> SnapshotPorts();
  size_t CrossConnectCount();

 private:
  struct PortEntry {
    vhostd::v1::Port spec;                 // normalized, without status
    std::unique_ptr<PortBackend> backend;  // null if the port could not be opened
    std::string error;                     // why, when backend is null
  };

  absl::Status ValidatePortSpec(vhostd::v1::Port& port) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ValidateCrossConnect(const vhostd::v1::CrossConnect& xconnect) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<PortBackend>> OpenPort(const vhostd::v1::Port& port)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (port name, rx queue) -> lcore that polls it.
  using QueueCores = std::map<std::pair<std::string, uint16_t>, int>;
  QueueCores RxQueueCores() const;
  vhostd::v1::Port Describe(const PortEntry& entry, const QueueCores& cores) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  vhostd::v1::PortStats Stats(const PortEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const vhostd::v1::CrossConnect* CrossConnectOf(const std::string& port) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the desired state as it would be after a change: `extra_port` added or
  // `without_port` left out (likewise for cross-connects).
  absl::Status Persist(const vhostd::v1::Port* extra_port = nullptr, const std::string& without_port = "",
                       const vhostd::v1::CrossConnect* extra_xconnect = nullptr,
                       const std::string& without_xconnect = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes what every polling core forwards and installs it.
  void Reprogram() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PluginRegistry* const plugins_;
  ForwardingEngine* const engine_;
  StateStore* const store_;
  const PluginContext context_;

  absl::Mutex mu_;
  std::map<std::string, PortEntry> ports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, vhostd::v1::CrossConnect> xconnects_ ABSL_GUARDED_BY(mu_);
  // Ports a polling core may still read. Normally the ports of the installed programs;
  // after a core failed to take a new program, the old ports stay here too, so they
  // are not closed under it.
  std::set<std::string> possibly_polled_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PORT_MANAGER_H_
