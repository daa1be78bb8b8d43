#include "plugins/vdpa/vdpa_plugin.h"

#include <rte_config.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

using vhostd::v1::Port;
using vhostd::v1::PortStatus;
using vhostd::v1::VdpaSpec;

constexpr char kField[] = "port.vdpa.device";
constexpr int kQueueSize = 256;

class VdpaBackend : public VdevBackend {
 public:
  VdpaBackend(std::unique_ptr<VdevPort> vdev, std::string path) : VdevBackend(std::move(vdev)), path_(std::move(path)) {}

  // MAC, MTU and link come from the device's config space (virtio_user reads them).
  void FillStatus(PortStatus* status) const override {
    const bool up = vdev().LinkUp();
    status->set_backend("vhost-vdpa");
    status->set_device_path(path_);
    status->set_state(up ? PortStatus::UP : PortStatus::DOWN);
    if (!up) status->set_message("the device reports link down");
    status->set_mac(vdev().MacAddress());
    uint16_t mtu = 0;
    if (rte_eth_dev_get_mtu(port_id(), &mtu) == 0) status->set_mtu(mtu);
    for (uint16_t q = 0; q < queues(); ++q) {
      vhostd::v1::QueueStatus* queue = status->add_queues();
      queue->set_queue(q);
      queue->set_rx_enabled(up);
      queue->set_tx_enabled(up);
    }
  }

 private:
  const std::string path_;
};

class VdpaPlugin : public PortPlugin {
 public:
  explicit VdpaPlugin(VdpaLocations locations) : locations_(std::move(locations)) {}

  absl::Status Normalize(Port& port) const override {
    VdpaSpec& spec = *port.mutable_vdpa();
    if (spec.device().empty()) return absl::InvalidArgumentError(absl::StrCat(kField, ": required"));
    if (!IsVhostVdpaPath(spec.device(), locations_) && !IsVdpaName(spec.device())) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ": \"", spec.device(), "\" is neither ",
                                                     locations_.dev, "/vhost-vdpa-N nor a vdpa device name"));
    }
    if (absl::Status s = NormalizeQueueCount(spec, "port.vdpa.queues"); !s.ok()) return s;
    return absl::OkStatus();
  }

  std::string ExclusiveResource(const Port& port) const override { return port.vdpa().device(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> Open(const Port& port, const PluginContext& /*context*/) override {
    const VdpaSpec& spec = port.vdpa();
    absl::StatusOr<std::string> path = ResolveVhostVdpa(spec.device(), locations_, kField);
    if (!path.ok()) return path.status();
    if (absl::Status s = CheckNotBusy(*path, kField); !s.ok()) return s;
    if (absl::Status s = EnsureMemlockUnlimited(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<VdevPort>> vdev =
        VdevPort::Create(absl::StrCat("net_virtio_user_vdpa", next_id_++),
                         absl::StrCat("path=", *path, ",queues=", spec.queues(), ",queue_size=", kQueueSize),
                         static_cast<uint16_t>(spec.queues()), absl::StrCat(kField, ".queues"));
    if (!vdev.ok()) return vdev.status();
    return std::unique_ptr<PortBackend>(new VdpaBackend(std::move(*vdev), *path));
  }

 private:
  const VdpaLocations locations_;
  unsigned next_id_ = 0;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeVdpaPlugin(VdpaLocations locations) {
  return std::make_unique<VdpaPlugin>(std::move(locations));
}

}  // namespace vhostd
