#include "plugins/uplink/uplink_plugin.h"

#include <rte_config.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "plugins/uplink/interface_info.h"
#include "plugins/uplink/uplink.pb.h"

namespace vhostd {
namespace {

using vhostd::plugins::uplink::v1::UplinkSpec;
using vhostd::plugins::uplink::v1::UplinkStatus;

constexpr char kAutoReason[] =
    "mode auto uses AF_PACKET: AF_XDP does not yet receive frames unicast to the MACs behind an uplink on every "
    "driver (veth); ask for mode af_xdp to use it";

class UplinkBackend : public VdevBackend {
 public:
  UplinkBackend(std::unique_ptr<VdevPort> vdev, std::string sysfs_net, std::string interface, int ifindex,
                std::string mode, std::string mode_reason)
      : VdevBackend(std::move(vdev)), sysfs_net_(std::move(sysfs_net)), interface_(std::move(interface)),
        ifindex_(ifindex), mode_(std::move(mode)), mode_reason_(std::move(mode_reason)) {}

  void FillStatus(PortState* state, google::protobuf::Message* type_status) const override {
    const InterfaceInfo info = ReadInterfaceInfo(interface_, sysfs_net_);
    state->backend = mode_;
    state->mtu = info.mtu;
    state->mac = info.mac;
    if (!info.exists) {
      state->state = PortLinkState::kError;
      state->message = absl::StrCat("interface ", interface_, " is gone: recreate it and the port");
    } else if (info.ifindex != ifindex_) {
      // Same name, another device: the sockets still point at the old one.
      state->state = PortLinkState::kError;
      state->message = absl::StrCat("interface ", interface_, " was replaced (ifindex ", ifindex_, " -> ",
                                    info.ifindex, "): recreate the port");
    } else {
      state->state = info.admin_up && info.carrier ? PortLinkState::kUp : PortLinkState::kDown;
      if (state->state == PortLinkState::kDown) {
        state->message = absl::StrCat("interface ", interface_, info.admin_up ? " has no carrier" : " is down");
      }
    }
    for (uint16_t q = 0; q < queues(); ++q) {
      const bool up = state->state == PortLinkState::kUp;
      state->queues.push_back(QueueState{q, up, up});
    }
    if (UplinkStatus* status = TypedStatus<UplinkStatus>(type_status)) {
      status->set_interface(interface_);
      status->set_ifindex(ifindex_);
      status->set_mode(mode_);
      status->set_mode_reason(mode_reason_);
      status->set_kernel_rx_packets(info.rx_packets);
      status->set_kernel_tx_packets(info.tx_packets);
      status->set_kernel_rx_dropped(info.rx_dropped);
      status->set_kernel_tx_dropped(info.tx_dropped);
    }
  }

 private:
  const std::string sysfs_net_;
  const std::string interface_;
  const int ifindex_;
  const std::string mode_;
  const std::string mode_reason_;
};

class UplinkPlugin : public TypedPortPlugin<UplinkSpec> {
 public:
  explicit UplinkPlugin(std::string sysfs_net) : sysfs_net_(std::move(sysfs_net)) {}

  const google::protobuf::Descriptor* status_type() const override { return UplinkStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& /*port_name*/, UplinkSpec& spec) const override {
    if (spec.interface().empty()) return absl::InvalidArgumentError("interface: required");
    if (!ValidInterfaceName(spec.interface())) {
      return absl::InvalidArgumentError(
          absl::StrCat("interface: \"", spec.interface().substr(0, 64),
                       "\" is not an interface name (1-15 characters, no '/', ':' or spaces)"));
    }
    if (!UplinkSpec::Mode_IsValid(spec.mode())) {
      return absl::InvalidArgumentError(absl::StrCat("mode: unknown value ", spec.mode()));
    }
    return NormalizeQueueCount(spec);
  }

  std::string SpecResource(const UplinkSpec& spec) const override {
    return absl::StrCat("interface ", spec.interface());
  }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& /*port_name*/, const UplinkSpec& spec,
                                                        const PluginContext& /*context*/) override {
    const InterfaceInfo info = ReadInterfaceInfo(spec.interface(), sysfs_net_);
    if (!info.exists) {
      return absl::NotFoundError(
          absl::StrCat("interface: there is no interface ", spec.interface(), " in the daemon's network namespace"));
    }
    const uint16_t queues = static_cast<uint16_t>(spec.queues());
    if (spec.mode() == UplinkSpec::MODE_AF_XDP) {
      absl::StatusOr<std::unique_ptr<VdevPort>> xdp = OpenAfXdp(spec.interface(), queues);
      if (!xdp.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("mode: AF_XDP on ", spec.interface(), " failed: ",
                                                          xdp.status().message(), " (see the daemon log)"));
      }
      return Backend(std::move(*xdp), spec.interface(), info.ifindex, "af_xdp", "");
    }
    absl::StatusOr<std::unique_ptr<VdevPort>> packet = VdevPort::Create(
        absl::StrCat("net_af_packet_up", next_id_++), absl::StrCat("iface=", spec.interface(), ",qpairs=", queues),
        queues, "queues");
    if (!packet.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("interface: AF_PACKET on ", spec.interface(), " failed: ", packet.status().message()));
    }
    const std::string reason = spec.mode() == UplinkSpec::MODE_AUTO ? kAutoReason : "";
    return Backend(std::move(*packet), spec.interface(), info.ifindex, "af_packet", reason);
  }

 private:
  absl::StatusOr<std::unique_ptr<VdevPort>> OpenAfXdp(const std::string& interface, uint16_t queues) {
    // AF_XDP binds a socket to each of the interface's receive queues it uses.
    const int rx_queues = CountRxQueues(interface, sysfs_net_);
    if (rx_queues > 0 && queues > rx_queues) {
      return absl::FailedPreconditionError(
          absl::StrCat(interface, " has ", rx_queues, " receive queues, fewer than the ", queues, " asked for"));
    }
    return VdevPort::Create(absl::StrCat("net_af_xdp_up", next_id_++),
                            absl::StrCat("iface=", interface, ",start_queue=0,queue_count=", queues), queues,
                            "queues");
  }

  absl::StatusOr<std::unique_ptr<PortBackend>> Backend(std::unique_ptr<VdevPort> vdev, const std::string& interface,
                                                       int ifindex, const std::string& mode,
                                                       const std::string& mode_reason) {
    // An uplink carries frames for the MACs of the VMs and pods behind it.
    rte_eth_promiscuous_enable(vdev->port_id());
    return std::unique_ptr<PortBackend>(
        new UplinkBackend(std::move(vdev), sysfs_net_, interface, ifindex, mode, mode_reason));
  }

  const std::string sysfs_net_;
  unsigned next_id_ = 0;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeUplinkPlugin(const std::string& sysfs_net) {
  return std::make_unique<UplinkPlugin>(sysfs_net);
}

}  // namespace vhostd
