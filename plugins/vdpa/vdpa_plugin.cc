#include "plugins/vdpa/vdpa_plugin.h"

#include <rte_config.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "plugins/vdpa/vdpa.pb.h"
#include "plugins/vdpa/virtio_vdpa_port.h"
#include "plugins/vhost_kernel/netdev.h"

namespace vhostd {
namespace {

using vhostd::plugins::vdpa::v1::VdpaSpec;
using vhostd::plugins::vdpa::v1::VdpaStatus;
using vhostd::plugins::vdpa::v1::VHOST_VDPA;
using vhostd::plugins::vdpa::v1::VIRTIO_VDPA;

constexpr char kField[] = "device";
constexpr int kQueueSize = 256;
constexpr uint32_t kMinMtu = 68;  // IPv4's minimum, virtio-net's too
constexpr uint32_t kMaxMtu = 65535;

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// The fields only the virtio bus uses must be unset on the vhost bus.
absl::Status CheckVhostVdpaFields(const VdpaSpec& spec) {
  const char* set = !spec.interface().empty() ? "interface"
                    : !spec.netns().empty()   ? "netns"
                    : !spec.mac().empty()     ? "mac"
                    : spec.mtu() != 0         ? "mtu"
                                              : nullptr;
  if (set == nullptr) return absl::OkStatus();
  return Invalid(set, "only with bus VIRTIO_VDPA (with VHOST_VDPA the device's config space decides)");
}

// A netns given by name lives where `ip netns` keeps them.
absl::Status NormalizeNetns(VdpaSpec& spec, const VdpaLocations& locations) {
  const std::string& netns = spec.netns();
  if (netns.empty() || netns[0] == '/') return absl::OkStatus();
  if (netns.find('/') != std::string::npos || netns == "." || netns == "..") {
    return Invalid("netns", absl::StrCat("\"", netns, "\" is neither an absolute path nor a namespace name"));
  }
  spec.set_netns(absl::StrCat(locations.netns_dir, "/", netns));
  return absl::OkStatus();
}

absl::Status NormalizeVirtioVdpaFields(const std::string& port_name, VdpaSpec& spec, const VdpaLocations& locations) {
  if (!IsVdpaName(spec.device())) {
    return Invalid(kField, absl::StrCat("bus VIRTIO_VDPA takes a vdpa device name (vdpa0), not \"", spec.device(),
                                        "\""));
  }
  if (spec.has_queues()) {
    return Invalid("queues", "only with bus VHOST_VDPA (virtio-net uses the queue pairs the device offers)");
  }
  if (spec.interface().empty()) {
    if (port_name.size() >= 16) return Invalid("interface", "required when the port name is longer than 15 characters");
    spec.set_interface(port_name);
  }
  if (!ValidInterfaceName(spec.interface())) {
    return Invalid("interface", absl::StrCat("\"", spec.interface(),
                                             "\" is not an interface name (1-15 characters, no '/', ':' or spaces)"));
  }
  if (absl::Status s = NormalizeNetns(spec, locations); !s.ok()) return s;
  if (!spec.mac().empty()) {
    absl::StatusOr<MacAddress> mac = ParseUnicastMac(spec.mac());
    if (!mac.ok()) return Invalid("mac", std::string(mac.status().message()));
    spec.set_mac(FormatMac(*mac));
  }
  if (spec.mtu() != 0 && (spec.mtu() < kMinMtu || spec.mtu() > kMaxMtu)) {
    return Invalid("mtu", absl::StrCat(spec.mtu(), " is out of range ", kMinMtu, "..", kMaxMtu));
  }
  return absl::OkStatus();
}

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
    if (VdpaStatus* status = TypedStatus<VdpaStatus>(type_status)) {
      status->set_bus(VHOST_VDPA);
      status->set_device_path(path_);
    }
  }

 private:
  const std::string path_;
};

class VdpaPlugin : public TypedPortPlugin<VdpaSpec> {
 public:
  explicit VdpaPlugin(VdpaLocations locations) : locations_(std::move(locations)) {}

  const google::protobuf::Descriptor* status_type() const override { return VdpaStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& port_name, VdpaSpec& spec) const override {
    if (!plugins::vdpa::v1::VdpaBus_IsValid(spec.bus())) {
      return Invalid("bus", absl::StrCat(spec.bus(), " is not a bus (VHOST_VDPA or VIRTIO_VDPA)"));
    }
    if (spec.device().empty()) return Invalid(kField, "required");
    if (spec.bus() == VIRTIO_VDPA) return NormalizeVirtioVdpaFields(port_name, spec, locations_);
    if (absl::Status s = CheckVhostVdpaFields(spec); !s.ok()) return s;
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
    if (spec.bus() == VIRTIO_VDPA) return OpenVirtioVdpaPort(spec, locations_);
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
