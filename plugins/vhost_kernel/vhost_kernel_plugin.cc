#include "plugins/vhost_kernel/vhost_kernel_plugin.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "plugins/vhost_kernel/netdev.h"
#include "plugins/vhost_kernel/vhost_kernel.pb.h"

namespace vhostd {
namespace {

using vhostd::plugins::vhost_kernel::v1::VhostKernelSpec;
using vhostd::plugins::vhost_kernel::v1::VhostKernelStatus;
constexpr uint32_t kMinMtu = 68;
constexpr uint32_t kMaxMtu = 9000;
// virtio ring size of the vhost-net queues.
constexpr int kQueueSize = 1024;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

class VhostKernelBackend : public VdevBackend {
 public:
  VhostKernelBackend(std::unique_ptr<VdevPort> vdev, std::string backend, std::string ifname, std::string netns)
      : VdevBackend(std::move(vdev)), backend_(std::move(backend)), ifname_(std::move(ifname)), netns_(std::move(netns)) {}

  void FillStatus(PortState* port, google::protobuf::Message* type_status) const override {
    const InterfaceState state = ReadInterface(ifname_, netns_);
    port->backend = backend_;
    port->mtu = state.mtu;
    port->mac = state.mac;
    if (!state.exists) {
      port->state = PortLinkState::kError;
      port->message = absl::StrCat("interface ", ifname_, " is gone", netns_.empty() ? "" : " (or its netns)");
    } else {
      port->state = state.up ? PortLinkState::kUp : PortLinkState::kDown;
      if (backend_ == "plain-tap") {
        port->message = "no /dev/vhost-net here: plain tap through /dev/net/tun, vhostd copies every packet";
      }
    }
    for (uint16_t q = 0; q < queues(); ++q) port->queues.push_back(QueueState{q, state.up, state.up});
    if (VhostKernelStatus* status = TypedStatus<VhostKernelStatus>(type_status)) {
      status->set_interface(ifname_);
      status->set_netns(netns_);
    }
  }

 private:
  const std::string backend_;
  const std::string ifname_;
  const std::string netns_;
};

class VhostKernelPlugin : public TypedPortPlugin<VhostKernelSpec> {
 public:
  explicit VhostKernelPlugin(VhostKernelPaths paths) : paths_(std::move(paths)) {}

  absl::Status CheckAvailable() const override {
    if (!Exists(paths_.tun)) return absl::FailedPreconditionError(absl::StrCat(paths_.tun, " is missing (tun module)"));
    return absl::OkStatus();
  }

  const google::protobuf::Descriptor* status_type() const override { return VhostKernelStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& port_name, VhostKernelSpec& spec) const override {
    if (spec.tap_name().empty()) {
      if (port_name.size() >= 16) {
        return absl::InvalidArgumentError(
            absl::StrCat("tap_name: required when the port name is longer than 15 characters"));
      }
      spec.set_tap_name(port_name);
    }
    if (!ValidInterfaceName(spec.tap_name())) {
      return absl::InvalidArgumentError(absl::StrCat("tap_name: \"", spec.tap_name(),
                                                     "\" is not an interface name (1-15 characters, no '/', ':' or "
                                                     "spaces)"));
    }
    if (!spec.netns().empty() && (spec.netns()[0] != '/' || spec.netns().find(',') != std::string::npos)) {
      return absl::InvalidArgumentError(
          absl::StrCat("netns: \"", spec.netns(), "\" must be an absolute path such as /var/run/netns/NAME"));
    }
    if (absl::Status s = NormalizeQueueCount(spec); !s.ok()) return s;
    if (!spec.mac().empty()) {
      absl::StatusOr<MacAddress> mac = ParseUnicastMac(spec.mac());
      if (!mac.ok()) return absl::InvalidArgumentError(absl::StrCat("mac: ", mac.status().message()));
      spec.set_mac(FormatMac(*mac));
    }
    if (spec.mtu() != 0 && (spec.mtu() < kMinMtu || spec.mtu() > kMaxMtu)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mtu: ", spec.mtu(), " is out of range ", kMinMtu, "..", kMaxMtu));
    }
    return absl::OkStatus();
  }

  std::string SpecResource(const VhostKernelSpec& spec) const override {
    return absl::StrCat("interface ", spec.tap_name(), " in ", spec.netns().empty() ? "the host namespace" : spec.netns());
  }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& /*port_name*/, const VhostKernelSpec& spec,
                                                        const PluginContext& /*context*/) override {
    const bool vhost_net = Exists(paths_.vhost_net);
    if (!vhost_net && !spec.allow_plain_tap()) {
      return absl::FailedPreconditionError(absl::StrCat(
          paths_.vhost_net, " is missing (load the vhost_net module); set allow_plain_tap to serve the port ",
          "as a plain tap instead"));
    }
    if (!spec.netns().empty() && !Exists(spec.netns())) {
      return absl::NotFoundError(absl::StrCat("netns: ", spec.netns(), " does not exist"));
    }
    const unsigned id = next_id_++;
    // In a netns the interface gets its name after the move; until then it carries a
    // host-side name that cannot clash with the host's interfaces.
    const std::string host_name = spec.netns().empty() ? spec.tap_name() : absl::StrCat("vhk", getpid() % 10000, "-", id);
    if (InterfaceExists(host_name)) {
      return absl::FailedPreconditionError(absl::StrCat("tap_name: interface ", host_name, " already exists"));
    }
    absl::StatusOr<std::unique_ptr<VdevPort>> vdev =
        vhost_net ? VdevPort::Create(absl::StrCat("net_virtio_user_vk", id),
                                     absl::StrCat("path=", paths_.vhost_net, ",iface=", host_name, ",queues=",
                                                  spec.queues(), ",queue_size=", kQueueSize),
                                     static_cast<uint16_t>(spec.queues()), "queues")
                  : VdevPort::Create(absl::StrCat("net_tap_vk", id), absl::StrCat("iface=", host_name),
                                     static_cast<uint16_t>(spec.queues()), "queues");
    if (!vdev.ok()) return vdev.status();
    // Closing the vdev (on any error below, or on delete) closes the tap's file
    // descriptors, and the kernel removes the interface wherever it is.
    absl::StatusOr<MacAddress> mac = spec.mac().empty() ? absl::StatusOr<MacAddress>() : ParseUnicastMac(spec.mac());
    if (absl::Status s = ConfigureInterface(host_name, spec.mac().empty() ? nullptr : &*mac, spec.mtu()); !s.ok()) {
      return absl::InternalError(absl::StrCat("configuring ", host_name, ": ", s.message()));
    }
    if (!spec.netns().empty()) {
      if (absl::Status s = MoveToNamespace(host_name, spec.netns(), spec.tap_name()); !s.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("netns: ", s.message()));
      }
    }
    return std::unique_ptr<PortBackend>(new VhostKernelBackend(std::move(*vdev), vhost_net ? "vhost-net" : "plain-tap",
                                                               spec.tap_name(), spec.netns()));
  }

 private:
  const VhostKernelPaths paths_;
  unsigned next_id_ = 0;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeVhostKernelPlugin(VhostKernelPaths paths) {
  return std::make_unique<VhostKernelPlugin>(std::move(paths));
}

}  // namespace vhostd
