// The contract between the daemon and a port type. A plugin owns its spec and status
// messages (protobuf, compiled into the plugin), validates the spec and opens a
// data-plane port for it; it knows nothing of gRPC, of the daemon's API or its state.
// Plugins are shared objects built from this tree: these classes cross the boundary
// (dataplane/plugin_abi.h), so changing them means bumping VHOSTD_PLUGIN_ABI_VERSION.
#ifndef VHOSTD_DATAPLANE_PORT_PLUGIN_H_
#define VHOSTD_DATAPLANE_PORT_PLUGIN_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/ethdev_io.h"
#include "dataplane/port_io.h"
#include "dataplane/port_state.h"
#include "dataplane/vdev_port.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

struct rte_mempool;

namespace vhostd {

// Lets a plugin wait until no polling core is still inside a burst it started before
// the call (each core finished its current loop iteration, or is stopped).
class CoreQuiescence {
 public:
  virtual ~CoreQuiescence() = default;
  virtual void WaitForQuiescence() = 0;
};

// Lets a port tell the daemon that something its forwarding depends on changed (its
// frontend connected, went away, or enabled or disabled queues), so the polling cores
// get a new plan. Must not block: called from lib/vhost's event thread, possibly while
// the control thread waits for that thread.
class PortEvents {
 public:
  virtual ~PortEvents() = default;
  virtual void PortChanged() = 0;
};

// What plugins may use from the data plane (all owned by the daemon, valid while the
// plugin's ports are open).
struct PluginContext {
  rte_mempool* mbuf_pool = nullptr;  // shared pool (vhost-user dequeue)
  CoreQuiescence* quiescence = nullptr;
  PortEvents* events = nullptr;
};

// An open port of some type: a started ethdev with its counters, plus whatever the type
// needs to report.
class PortBackend {
 public:
  virtual ~PortBackend() = default;  // closes the port and releases what it held
  virtual PortIo io() const = 0;          // how polling cores move its packets
  virtual int ethdev_port_id() const { return -1; }  // DPDK ethdev port, -1 if none
  // Queue pairs to poll now: the configured count, or for a port whose frontend decides
  // (vhost-user), the pairs the frontend set up and enabled.
  virtual uint16_t queues() const = 0;
  // Queue pairs whose counters hold data (at least queues(); more after a frontend
  // used more than it does now). counters() has this many entries.
  virtual uint16_t counted_queues() const { return queues(); }
  virtual QueueCounters* counters() = 0;  // array of counted_queues(), written by polling cores
  virtual DriverStats ReadDriverStats() const = 0;
  // Reports the port's state. `type_status` is a new message of the plugin's
  // status_type() to fill, or null when the plugin has none.
  virtual void FillStatus(PortState* state, google::protobuf::Message* type_status) const = 0;
  // Whether polling cores can move this port's packets, i.e. it may be cross-connected
  // or join a bridge.
  // A port whose packets never pass through vhostd (a device the kernel drives) says
  // why not: FAILED_PRECONDITION whose message starts with the spec field that decides
  // ("bus: ..."), as in PortPlugin::Normalize. Such a port reports queues() == 0.
  virtual absl::Status CheckForwardable() const { return absl::OkStatus(); }
};

// A PortBackend whose data-plane side is one VdevPort.
class VdevBackend : public PortBackend {
 public:
  explicit VdevBackend(std::unique_ptr<VdevPort> vdev) : vdev_(std::move(vdev)) {}
  PortIo io() const override { return EthdevIo(vdev_->port_id()); }
  int ethdev_port_id() const override { return vdev_->port_id(); }
  uint16_t port_id() const { return vdev_->port_id(); }
  uint16_t queues() const override { return vdev_->queues(); }
  QueueCounters* counters() override { return &vdev_->counters(0); }
  DriverStats ReadDriverStats() const override { return vdev_->ReadDriverStats(); }

 protected:
  VdevPort& vdev() const { return *vdev_; }

 private:
  std::unique_ptr<VdevPort> vdev_;
};

class PortPlugin {
 public:
  virtual ~PortPlugin() = default;
  // (The type name, version and description come from the plugin's descriptor.)
  // The messages of Port.spec and PortStatus.type_status for this type; the status
  // type may be null. Their generated code lives in the plugin's shared object.
  virtual const google::protobuf::Descriptor* spec_type() const = 0;
  virtual const google::protobuf::Descriptor* status_type() const { return nullptr; }
  // Whether this host can serve the type (e.g. /dev/vhost-net exists); the message says
  // what is missing. Optional: the default is available.
  virtual absl::Status CheckAvailable() const { return absl::OkStatus(); }
  // Validates a spec (a message of spec_type()) of the port named `port_name` and
  // rewrites it to canonical form (defaults filled in, paths resolved) so that equal
  // requests compare equal. No side effects. Errors are INVALID_ARGUMENT whose message
  // starts with the field's path inside the spec ("queues: ..."); the daemon prefixes
  // where the spec sits ("port.spec.").
  virtual absl::Status Normalize(const std::string& port_name, google::protobuf::Message& spec) const = 0;
  // A host resource the port holds exclusively (socket path, tap name, device), so two
  // ports can't claim it; "" if none. Called on normalized specs.
  virtual std::string ExclusiveResource(const google::protobuf::Message& spec) const { return ""; }
  // Opens a port for a spec that Normalize accepted. On error nothing is left behind.
  virtual absl::StatusOr<std::unique_ptr<PortBackend>> Open(const std::string& port_name,
                                                            const google::protobuf::Message& spec,
                                                            const PluginContext& context) = 0;
};

// A PortPlugin written against its own generated messages: implements the
// message-typed interface by casting to Spec (and Status for backends, see
// TypedStatus). The daemon makes spec messages from spec_type() with the generated
// factory, so they are of the plugin's own generated class.
template <typename Spec>
class TypedPortPlugin : public PortPlugin {
 public:
  const google::protobuf::Descriptor* spec_type() const final { return Spec::descriptor(); }
  absl::Status Normalize(const std::string& port_name, google::protobuf::Message& spec) const final {
    Spec* typed = google::protobuf::DynamicCastToGenerated<Spec>(&spec);
    if (typed == nullptr) return WrongType(spec);
    return NormalizeSpec(port_name, *typed);
  }
  std::string ExclusiveResource(const google::protobuf::Message& spec) const final {
    const Spec* typed = google::protobuf::DynamicCastToGenerated<Spec>(&spec);
    return typed == nullptr ? "" : SpecResource(*typed);
  }
  absl::StatusOr<std::unique_ptr<PortBackend>> Open(const std::string& port_name,
                                                    const google::protobuf::Message& spec,
                                                    const PluginContext& context) final {
    const Spec* typed = google::protobuf::DynamicCastToGenerated<Spec>(&spec);
    if (typed == nullptr) return WrongType(spec);
    return OpenSpec(port_name, *typed, context);
  }

 protected:
  virtual absl::Status NormalizeSpec(const std::string& port_name, Spec& spec) const = 0;
  virtual std::string SpecResource(const Spec& spec) const { return ""; }
  virtual absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& port_name, const Spec& spec,
                                                                const PluginContext& context) = 0;

 private:
  static absl::Status WrongType(const google::protobuf::Message& spec) {
    // The daemon checks the type first; this would be its bug.
    return absl::InternalError("spec is a " + spec.GetDescriptor()->full_name() + ", not a " +
                               Spec::descriptor()->full_name());
  }
};

// The plugin's status message inside FillStatus: `type_status` cast to Status, or null.
template <typename Status>
Status* TypedStatus(google::protobuf::Message* type_status) {
  return type_status == nullptr ? nullptr : google::protobuf::DynamicCastToGenerated<Status>(type_status);
}

// Queue-pair limits shared by all types.
inline constexpr uint32_t kMaxQueues = 16;

// Fills in the default of a spec's `optional uint32 queues` (1) and checks the range;
// the error names the field "queues" (see PortPlugin::Normalize).
template <typename Spec>
absl::Status NormalizeQueueCount(Spec& spec, const std::string& field = "queues") {
  if (!spec.has_queues()) spec.set_queues(1);
  if (spec.queues() < 1 || spec.queues() > kMaxQueues) {
    return absl::InvalidArgumentError(
        field + ": " + std::to_string(spec.queues()) + " is out of range 1.." + std::to_string(kMaxQueues));
  }
  return absl::OkStatus();
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PORT_PLUGIN_H_
