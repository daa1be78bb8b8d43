#include "plugins/vdpa/vdpa_plugin.h"

#include <rte_config.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "plugins/vdpa/vdpa.pb.h"

namespace vhostd {
namespace {

using vhostd::plugins::vdpa::v1::VdpaSpec;
using vhostd::plugins::vdpa::v1::VdpaStatus;

constexpr char kField[] = "device";
constexpr int kQueueSize = 256;

class VdpaBackend : public VdevBackend {
 public:
  VdpaBackend(std::unique_ptr<VdevPort> vdev, std::string path) : VdevBackend(std::move(vdev)), path_(std::move(path)) {}

  // MAC, MTU and link come from the device's config space (virtio_user reads them).
  void FillStatus(PortState* state, google::protobuf::Message* type_status) const override {
    const bool up = vdev().LinkUp();
    state->backend = "vhost-vdpa";
    state->state = up ? PortLinkState::kUp : PortLinkState::kDown;
    if (!up) state->message = "the device reports link down";
    state->mac = vdev().MacAddress();
    uint16_t mtu = 0;
    if (rte_eth_dev_get_mtu(port_id(), &mtu) == 0) state->mtu = mtu;
    for (uint16_t q = 0; q < queues(); ++q) state->queues.push_back(QueueState{q, up, up});
    if (VdpaStatus* status = TypedStatus<VdpaStatus>(type_status)) status->set_device_path(path_);
  }

 private:
  const std::string path_;
};

class VdpaPlugin : public TypedPortPlugin<VdpaSpec> {
 public:
  explicit VdpaPlugin(VdpaLocations locations) : locations_(std::move(locations)) {}

  const google::protobuf::Descriptor* status_type() const override { return VdpaStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& /*port_name*/, VdpaSpec& spec) const override {
    if (spec.device().empty()) return absl::InvalidArgumentError(absl::StrCat(kField, ": required"));
    if (!IsVhostVdpaPath(spec.device(), locations_) && !IsVdpaName(spec.device())) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ": \"", spec.device(), "\" is neither ",
                                                     locations_.dev, "/vhost-vdpa-N nor a vdpa device name"));
    }
    if (absl::Status s = NormalizeQueueCount(spec); !s.ok()) return s;
    return absl::OkStatus();
  }

  std::string SpecResource(const VdpaSpec& spec) const override { return spec.device(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& /*port_name*/, const VdpaSpec& spec,
                                                        const PluginContext& /*context*/) override {
    absl::StatusOr<std::string> path = ResolveVhostVdpa(spec.device(), locations_, kField);
    if (!path.ok()) return path.status();
    if (absl::Status s = CheckNotBusy(*path, kField); !s.ok()) return s;
    if (absl::Status s = EnsureMemlockUnlimited(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<VdevPort>> vdev =
        VdevPort::Create(absl::StrCat("net_virtio_user_vdpa", next_id_++),
                         absl::StrCat("path=", *path, ",queues=", spec.queues(), ",queue_size=", kQueueSize),
                         static_cast<uint16_t>(spec.queues()), "queues");
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
