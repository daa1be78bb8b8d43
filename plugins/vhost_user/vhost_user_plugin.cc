#include "plugins/vhost_user/vhost_user_plugin.h"

#include <rte_config.h>
#include <rte_errno.h>
#include <rte_eth_vhost.h>
#include <rte_ethdev.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "dataplane/virtio_features.h"
#include "plugins/vhost_user/socket_path.h"
#include "plugins/vhost_user/vhost_device_query.h"

namespace vhostd {
namespace {

using vhostd::v1::Port;
using vhostd::v1::PortStatus;
using vhostd::v1::VhostUserSpec;

constexpr char kField[] = "port.vhost_user";

class VhostUserBackend : public VdevBackend {
 public:
  VhostUserBackend(std::unique_ptr<VdevPort> vdev, bool client_mode)
      : VdevBackend(std::move(vdev)),
        client_mode_(client_mode),
        rx_enabled_(new std::atomic<bool>[queues()]),
        tx_enabled_(new std::atomic<bool>[queues()]) {
    for (uint16_t q = 0; q < queues(); ++q) {
      rx_enabled_[q].store(false);
      tx_enabled_[q].store(false);
    }
    rte_eth_dev_callback_register(port_id(), RTE_ETH_EVENT_QUEUE_STATE, &OnQueueState, this);
  }

  ~VhostUserBackend() override {
    // -EAGAIN means the callback is running right now: wait for it to finish.
    while (rte_eth_dev_callback_unregister(port_id(), RTE_ETH_EVENT_QUEUE_STATE, &OnQueueState, this) ==
           -EAGAIN) {
    }
  }

  void FillStatus(PortStatus* status) const override {
    const bool up = vdev().LinkUp();
    status->set_backend("vhost-user");
    status->set_state(up ? PortStatus::UP : PortStatus::WAITING_FOR_PEER);
    if (!up) {
      status->set_message(client_mode_ ? "connecting to the frontend's socket" : "waiting for a frontend to connect");
    }
    const int vid = rte_eth_vhost_get_vid_from_port_id(port_id());
    uint64_t features = 0;
    if (up && vid >= 0 && vhostd_vhost_negotiated_features(vid, &features) == 0) {
      status->set_negotiated_features(features);
      for (std::string& name : VirtioFeatureNames(features)) status->add_negotiated_feature_names(std::move(name));
    }
    for (uint16_t q = 0; q < queues(); ++q) {
      vhostd::v1::QueueStatus* queue = status->add_queues();
      queue->set_queue(q);
      queue->set_rx_enabled(up && rx_enabled_[q].load(std::memory_order_relaxed));
      queue->set_tx_enabled(up && tx_enabled_[q].load(std::memory_order_relaxed));
    }
    status->set_mac(vdev().MacAddress());
    status->set_frontend_connects(vdev().link_ups());
    status->set_frontend_disconnects(vdev().link_downs());
  }

 private:
  // Runs on DPDK's vhost-events thread: drains the PMD's queue events into flags.
  static int OnQueueState(uint16_t port_id, rte_eth_event_type /*event*/, void* self, void* /*unused*/) {
    auto* backend = static_cast<VhostUserBackend*>(self);
    rte_eth_vhost_queue_event event;
    while (rte_eth_vhost_get_queue_event(port_id, &event) == 0) {
      if (event.queue_id >= backend->queues()) continue;
      // The PMD's "rx" queue is the frontend's transmit ring: vhostd receives from it.
      (event.rx ? backend->rx_enabled_ : backend->tx_enabled_)[event.queue_id].store(event.enable,
                                                                                  std::memory_order_relaxed);
    }
    return 0;
  }

  const bool client_mode_;
  std::unique_ptr<std::atomic<bool>[]> rx_enabled_;
  std::unique_ptr<std::atomic<bool>[]> tx_enabled_;
};

std::string DevArgs(const VhostUserSpec& spec) {
  std::string args = absl::StrCat("iface=", spec.socket_path(), ",queues=", spec.queues(),
                                  ",client=", spec.mode() == VhostUserSpec::MODE_CLIENT ? 1 : 0);
  if (spec.tso()) absl::StrAppend(&args, ",tso=1");
  if (spec.iommu_support()) absl::StrAppend(&args, ",iommu-support=1");
  if (spec.postcopy_support()) absl::StrAppend(&args, ",postcopy-support=1");
  if (spec.linear_buffer()) absl::StrAppend(&args, ",linear-buffer=1");
  if (spec.ext_buffer()) absl::StrAppend(&args, ",ext-buffer=1");
  return args;
}

class VhostUserPlugin : public PortPlugin {
 public:
  explicit VhostUserPlugin(std::string socket_dir) : socket_dir_(std::move(socket_dir)) {}

  PluginInfo Info() const override {
    return {"vhost-user", "1.0.0",
            "vhost-user backend on a Unix socket (server or client mode), DPDK net_vhost"};
  }

  absl::Status Normalize(Port& port) const override {
    VhostUserSpec& spec = *port.mutable_vhost_user();
    absl::StatusOr<std::string> path =
        ResolveSocketPath(spec.socket_path(), socket_dir_, absl::StrCat(kField, ".socket_path"));
    if (!path.ok()) return path.status();
    spec.set_socket_path(*path);
    if (!VhostUserSpec::Mode_IsValid(spec.mode())) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ".mode: unknown value ", spec.mode()));
    }
    if (spec.mode() == VhostUserSpec::MODE_UNSPECIFIED) spec.set_mode(VhostUserSpec::MODE_SERVER);
    if (!spec.has_queues()) spec.set_queues(1);
    if (spec.queues() < 1 || spec.queues() > kMaxQueues) {
      return absl::InvalidArgumentError(
          absl::StrCat(kField, ".queues: ", spec.queues(), " is out of range 1..", kMaxQueues));
    }
    if (spec.linear_buffer() && spec.ext_buffer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kField, ".ext_buffer: cannot be combined with linear_buffer"));
    }
    return absl::OkStatus();
  }

  std::string ExclusiveResource(const Port& port) const override { return port.vhost_user().socket_path(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> Open(const Port& port, const PluginContext& context) override {
    const VhostUserSpec& spec = port.vhost_user();
    const bool client = spec.mode() == VhostUserSpec::MODE_CLIENT;
    if (!client) {
      absl::Status cleared = ClearStaleSocket(spec.socket_path(), absl::StrCat(kField, ".socket_path"));
      if (!cleared.ok()) return cleared;
    }
    // vdev names are capped at 64 bytes, so they carry a counter, not the port name.
    const std::string vdev_name = absl::StrCat("net_vhost", next_vdev_id_++);
    absl::StatusOr<std::unique_ptr<VdevPort>> vdev =
        VdevPort::Create(vdev_name, DevArgs(spec), static_cast<uint16_t>(spec.queues()), context.mbuf_pool);
    if (!vdev.ok()) return vdev.status();
    return std::unique_ptr<PortBackend>(new VhostUserBackend(std::move(*vdev), client));
  }

 private:
  const std::string socket_dir_;
  unsigned next_vdev_id_ = 0;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeVhostUserPlugin(const std::string& socket_dir) {
  return std::make_unique<VhostUserPlugin>(socket_dir);
}

}  // namespace vhostd
