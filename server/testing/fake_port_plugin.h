// A "vhost-user" PortPlugin for unit tests of the control plane: it normalizes specs
// like the real plugin but touches no file system, and opens FakeBackends (own counters,
// no DPDK). A shared FakePluginLog records what happened, for assertions. It uses the
// real plugin's messages (a test-only dependency), so that tests see real specs,
// including state files of the old format.
#ifndef VHOSTD_SERVER_TESTING_FAKE_PORT_PLUGIN_H_
#define VHOSTD_SERVER_TESTING_FAKE_PORT_PLUGIN_H_

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dataplane/plugin_abi.h"
#include "dataplane/plugin_registry.h"
#include "dataplane/port_plugin.h"
#include "plugins/vhost_user/vhost_user.pb.h"

namespace vhostd {
namespace fakes {

using vhostd::plugins::vhost_user::v1::VhostUserSpec;
using vhostd::plugins::vhost_user::v1::VhostUserStatus;

class FakeBackend;

struct FakePluginLog {
  std::vector<std::string> opened;          // port names, one per successful Open
  std::vector<std::string> open_attempts;   // port names, one per Open call
  int destroyed = 0;                        // FakeBackend destructor calls
  std::map<std::string, FakeBackend*> live;  // open backends by port name
};

class FakeBackend : public PortBackend {
 public:
  FakeBackend(std::string name, uint16_t port_id, uint16_t queues, std::shared_ptr<FakePluginLog> log)
      : name_(std::move(name)), port_id_(port_id), queues_(queues), counters_(new QueueCounters[kMaxQueues]),
        log_(std::move(log)) {
    log_->live[name_] = this;
  }
  ~FakeBackend() override {
    ++log_->destroyed;
    log_->live.erase(name_);
  }

  // The context pointer carries the fake port id; the fake engine never calls rx/tx.
  PortIo io() const override { return PortIo{nullptr, nullptr, reinterpret_cast<void*>(uintptr_t{port_id_})}; }
  int ethdev_port_id() const override { return port_id_; }
  // Like a vhost-user frontend, a test may enable fewer or more queues than configured.
  uint16_t queues() const override { return active_queues >= 0 ? static_cast<uint16_t>(active_queues) : queues_; }
  uint16_t counted_queues() const override { return std::max<uint16_t>(queues_, queues()); }
  QueueCounters* counters() override { return counters_.get(); }
  DriverStats ReadDriverStats() const override { return driver_stats; }
  void FillStatus(PortState* state, google::protobuf::Message* type_status) const override {
    state->state = PortLinkState::kUp;
    state->mac = "02:00:00:00:00:01";
    state->backend = "fake";
    for (uint16_t q = 0; q < queues_; ++q) state->queues.push_back(QueueState{q, true, true});
    if (VhostUserStatus* status = TypedStatus<VhostUserStatus>(type_status)) status->set_frontend_connections(1);
  }

  QueueCounters& counter(uint16_t queue) { return counters_[queue]; }
  DriverStats driver_stats;
  int active_queues = -1;  // queue pairs to report, -1: the configured count

 private:
  const std::string name_;
  const uint16_t port_id_;
  const uint16_t queues_;
  std::unique_ptr<QueueCounters[]> counters_;
  std::shared_ptr<FakePluginLog> log_;
};

class FakePortPlugin : public TypedPortPlugin<VhostUserSpec> {
 public:
  static constexpr char kSocketDir[] = "/fake/sockets";

  explicit FakePortPlugin(std::shared_ptr<FakePluginLog> log = std::make_shared<FakePluginLog>())
      : log_(std::move(log)) {}

  // How a test registers it (as the loader would, from a descriptor and a file).
  static PluginInfo Info() {
    return {"vhost-user", "0.0.1-fake", "fake vhost-user for tests", "fake_vhost_user.so", VHOSTD_PLUGIN_ABI_VERSION};
  }

  absl::Status CheckAvailable() const override { return available; }
  const google::protobuf::Descriptor* status_type() const override { return VhostUserStatus::descriptor(); }

  const std::shared_ptr<FakePluginLog>& log() const { return log_; }

  // Knobs.
  absl::Status available = absl::OkStatus();
  absl::Status open_error = absl::OkStatus();  // every Open fails with this when not OK
  std::set<std::string> fail_open_for;         // Open fails for these port names
  uint16_t next_port_id = 10;

 protected:
  // Like the real plugin's Normalize, minus realpath(): a relative path is joined to
  // kSocketDir, an absolute one must lie inside it.
  absl::Status NormalizeSpec(const std::string& /*port_name*/, VhostUserSpec& spec) const override {
    const std::string field = "socket_path";
    if (spec.socket_path().empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
    if (spec.socket_path().find_first_of(",=\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": must not contain ',', '=' or control characters"));
    }
    if (absl::StrContains(spec.socket_path(), "..")) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": resolves outside the socket directory"));
    }
    const std::string path =
        spec.socket_path()[0] == '/' ? spec.socket_path() : absl::StrCat(kSocketDir, "/", spec.socket_path());
    if (!absl::StartsWith(path, absl::StrCat(kSocketDir, "/"))) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": resolves outside the socket directory"));
    }
    spec.set_socket_path(path);
    if (!VhostUserSpec::Mode_IsValid(spec.mode())) {
      return absl::InvalidArgumentError(absl::StrCat("mode: unknown value ", spec.mode()));
    }
    if (spec.mode() == VhostUserSpec::MODE_UNSPECIFIED) {
      spec.set_mode(VhostUserSpec::MODE_SERVER);
    }
    if (!spec.has_queues()) spec.set_queues(1);
    if (spec.queues() < 1 || spec.queues() > kMaxQueues) {
      return absl::InvalidArgumentError(
          absl::StrCat("queues: ", spec.queues(), " is out of range 1..", kMaxQueues));
    }
    if (spec.linear_buffer() && spec.ext_buffer()) {
      return absl::InvalidArgumentError("ext_buffer: cannot be combined with linear_buffer");
    }
    return absl::OkStatus();
  }

  std::string SpecResource(const VhostUserSpec& spec) const override { return spec.socket_path(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& name, const VhostUserSpec& spec,
                                                        const PluginContext& /*context*/) override {
    log_->open_attempts.push_back(name);
    if (!open_error.ok()) return open_error;
    if (fail_open_for.count(name)) return absl::InternalError(absl::StrCat("fake: cannot open ", name));
    const uint16_t port_id = next_port_id++;
    log_->opened.push_back(name);
    return std::unique_ptr<PortBackend>(new FakeBackend(name, port_id, static_cast<uint16_t>(spec.queues()), log_));
  }

 private:
  std::shared_ptr<FakePluginLog> log_;
};

}  // namespace fakes
}  // namespace vhostd

#endif  // VHOSTD_SERVER_TESTING_FAKE_PORT_PLUGIN_H_
