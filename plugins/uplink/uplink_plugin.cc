#include "plugins/uplink/uplink_plugin.h"

#include <unistd.h>

#include <cstdlib>

#include <rte_config.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dataplane/ethdev_io.h"
#include "dataplane/port_pool.h"
#include "plugins/uplink/af_xdp_leftovers.h"
#include "plugins/uplink/dpdk_log_capture.h"
#include "plugins/uplink/interface_info.h"
#include "plugins/uplink/uplink_ethdev.h"
#include "plugins/uplink/uplink_spec.h"

namespace vhostd {
namespace uplink {
namespace {

// The largest frame one packet buffer takes: AF_XDP writes a frame 576 bytes into its
// 2,368-byte UMEM chunk (pool object header, mbuf, headroom, XDP headroom); AF_PACKET's
// 2 KiB ring slots hold 1,982 bytes. An interface whose MTU (plus Ethernet header and a
// VLAN tag) does not fit is refused: AF_PACKET would pass truncated frames on.
constexpr uint32_t kMaxFrameAfXdp = 1792;
constexpr uint32_t kMaxFrameAfPacket = 1982;
constexpr uint32_t kL2Overhead = 18;

// libxdp's default XSK program (a redirect into the sockets' map) as an object file,
// which Debian's libxdp1 ships. Given to net_af_xdp as xdp_prog, it is attached without
// a mode, so the kernel runs it in the driver where it can and generically elsewhere;
// without it DPDK 22.11 has libxdp attach its built-in copy in driver mode only, which
// devices without XDP support (vxlan, bonds on some drivers) refuse. "" if not found:
// then AF_XDP works on drivers with XDP only.
std::string XskProgramPath() {
  const char* env = getenv("LIBXDP_OBJECT_PATH");  // libxdp's own override
  for (const std::string& dir : {std::string(env ? env : ""), std::string("/usr/lib/x86_64-linux-gnu/bpf"),
                                std::string("/usr/lib/aarch64-linux-gnu/bpf"), std::string("/usr/lib/bpf")}) {
    const std::string path = dir + "/xsk_def_xdp_prog.o";
    // DPDK's device arguments can't carry ',' or '='.
    if (!dir.empty() && path.find_first_of(",=") == std::string::npos && access(path.c_str(), R_OK) == 0) {
      return path;
    }
  }
  return "";
}

uint32_t MaxMtu(bool af_xdp) { return (af_xdp ? kMaxFrameAfXdp : kMaxFrameAfPacket) - kL2Overhead; }

// How the port was attached, for its status.
struct Attachment {
  std::string mode;         // "af_xdp" / "af_packet"
  std::string mode_reason;  // why not AF_XDP (MODE_AUTO on AF_PACKET)
  std::string xdp_attach_mode;
  int ifindex = 0;
  bool set_promiscuous = false;  // vhostd turned IFF_PROMISC on, and turns it off again
};

class UplinkBackend : public PortBackend {
 public:
  UplinkBackend(std::unique_ptr<UplinkEthdev> ethdev, std::string sysfs_net, std::string interface,
                Attachment attachment)
      : ethdev_(std::move(ethdev)), sysfs_net_(std::move(sysfs_net)), interface_(std::move(interface)),
        attachment_(std::move(attachment)) {}

  ~UplinkBackend() override {
    // Only on the interface it was set on: a new one of the same name is someone else's.
    if (attachment_.set_promiscuous && ReadInterfaceInfo(interface_, sysfs_net_).ifindex == attachment_.ifindex) {
      rte_eth_promiscuous_disable(ethdev_->port_id());
    }
  }

  PortIo io() const override { return EthdevIo(ethdev_->port_id()); }
  int ethdev_port_id() const override { return ethdev_->port_id(); }
  uint16_t queues() const override { return ethdev_->queues(); }
  QueueCounters* counters() override { return ethdev_->counters(); }
  DriverStats ReadDriverStats() const override { return ethdev_->ReadDriverStats(); }

  void FillStatus(PortState* state, google::protobuf::Message* type_status) const override {
    const InterfaceInfo info = ReadInterfaceInfo(interface_, sysfs_net_);
    state->backend = attachment_.mode;
    state->mtu = info.mtu;
    state->mac = info.mac;
    state->state = LinkState(info, &state->message);
    for (uint16_t q = 0; q < queues(); ++q) {
      const bool up = state->state == PortLinkState::kUp;
      state->queues.push_back(QueueState{q, up, up});
    }
    if (UplinkStatus* status = TypedStatus<UplinkStatus>(type_status)) FillTypedStatus(info, status);
  }

 private:
  PortLinkState LinkState(const InterfaceInfo& info, std::string* message) const {
    if (!info.exists) {
      *message = absl::StrCat("interface ", interface_, " is gone (deleted, or moved to another namespace): ",
                              "delete the port, and create it again once the interface is back");
      return PortLinkState::kError;
    }
    if (info.ifindex != attachment_.ifindex) {
      // Same name, another device: the sockets still point at the old one.
      *message = absl::StrCat("interface ", interface_, " was replaced (ifindex ", attachment_.ifindex, " -> ",
                              info.ifindex, "): delete the port and create it again");
      return PortLinkState::kError;
    }
    if (!info.admin_up || !info.carrier) {
      *message = absl::StrCat("interface ", interface_, info.admin_up ? " has no carrier" : " is down",
                              " (operstate ", info.operstate, ")");
      return PortLinkState::kDown;
    }
    if (info.mtu > MaxMtu(attachment_.mode == "af_xdp")) {
      *message = absl::StrCat("interface ", interface_, " has MTU ", info.mtu, " now; frames over ",
                              MaxMtu(attachment_.mode == "af_xdp") + kL2Overhead, " bytes are dropped");
    } else if (!attachment_.mode_reason.empty()) {
      *message = absl::StrCat("AF_PACKET: ", attachment_.mode_reason);
    } else if (attachment_.xdp_attach_mode == "generic") {
      *message = absl::StrCat("AF_XDP in generic mode: the driver of ", interface_, " has no XDP support");
    }
    return PortLinkState::kUp;
  }

  void FillTypedStatus(const InterfaceInfo& info, UplinkStatus* status) const {
    status->set_interface(interface_);
    status->set_ifindex(attachment_.ifindex);
    status->set_mode(attachment_.mode);
    status->set_mode_reason(attachment_.mode_reason);
    status->set_xdp_attach_mode(attachment_.xdp_attach_mode);
    status->set_promiscuous(info.promiscuous);
    status->set_operstate(info.operstate);
    status->set_kernel_rx_packets(info.rx_packets);
    status->set_kernel_tx_packets(info.tx_packets);
    status->set_kernel_rx_dropped(info.rx_dropped);
    status->set_kernel_tx_dropped(info.tx_dropped);
  }

  const std::unique_ptr<UplinkEthdev> ethdev_;
  const std::string sysfs_net_;
  const std::string interface_;
  const Attachment attachment_;
};

class UplinkPlugin : public TypedPortPlugin<UplinkSpec> {
 public:
  explicit UplinkPlugin(std::string sysfs_net) : sysfs_net_(std::move(sysfs_net)) {}

  const google::protobuf::Descriptor* status_type() const override { return UplinkStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& /*port_name*/, UplinkSpec& spec) const override {
    return NormalizeUplinkSpec(spec);
  }

  std::string SpecResource(const UplinkSpec& spec) const override { return UplinkResource(spec); }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& /*port_name*/, const UplinkSpec& spec,
                                                        const PluginContext& /*context*/) override {
    const InterfaceInfo info = ReadInterfaceInfo(spec.interface(), sysfs_net_);
    if (absl::Status usable = CheckUsable(spec, info); !usable.ok()) return usable;
    Attachment attachment;
    attachment.ifindex = info.ifindex;
    absl::StatusOr<std::unique_ptr<UplinkEthdev>> ethdev = Attach(spec, info, &attachment);
    if (!ethdev.ok()) return ethdev.status();
    if (absl::Status promiscuous = SetPromiscuous(spec, info, **ethdev, &attachment); !promiscuous.ok()) {
      return promiscuous;
    }
    return std::unique_ptr<PortBackend>(
        new UplinkBackend(std::move(*ethdev), sysfs_net_, spec.interface(), std::move(attachment)));
  }

 private:
  // What makes an interface unfit whatever the mode; errors name `interface`.
  absl::Status CheckUsable(const UplinkSpec& spec, const InterfaceInfo& info) const {
    const std::string& name = spec.interface();
    if (!info.exists) {
      return absl::NotFoundError(
          absl::StrCat("interface: there is no interface ", name, " in the daemon's network namespace"));
    }
    if (IsOwnTap(name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "interface: ", name, " is a tap of this vhostd (a vhost-kernel port): cross-connect that port instead"));
    }
    const uint32_t max_mtu = MaxMtu(spec.mode() != UplinkSpec::MODE_AF_PACKET);
    if (info.mtu > max_mtu) {
      return absl::FailedPreconditionError(absl::StrCat(
          "interface: ", name, " has MTU ", info.mtu, "; an uplink carries frames of one packet buffer, MTU up to ",
          max_mtu, spec.mode() == UplinkSpec::MODE_AF_PACKET ? "" : absl::StrCat(" (", MaxMtu(false),
                                                                                  " with mode MODE_AF_PACKET)")));
    }
    return absl::OkStatus();
  }

  // AF_XDP unless the spec says AF_PACKET; AF_PACKET after AF_XDP failed in MODE_AUTO.
  absl::StatusOr<std::unique_ptr<UplinkEthdev>> Attach(const UplinkSpec& spec, const InterfaceInfo& info,
                                                        Attachment* attachment) {
    if (spec.mode() != UplinkSpec::MODE_AF_PACKET) {
      absl::StatusOr<std::unique_ptr<UplinkEthdev>> xdp = OpenAfXdp(spec, info);
      if (xdp.ok()) {
        attachment->mode = "af_xdp";
        attachment->xdp_attach_mode = QueryXdp(info.ifindex).mode;
        return xdp;
      }
      // No memory is no reason to change modes; an explicit AF_XDP fails with AF_XDP's reason.
      if (spec.mode() == UplinkSpec::MODE_AF_XDP || absl::IsResourceExhausted(xdp.status())) return xdp.status();
      attachment->mode_reason = absl::StrCat("AF_XDP can't be used: ", StripField(xdp.status().message()));
    }
    attachment->mode = "af_packet";
    return OpenAfPacket(spec);
  }

  absl::StatusOr<std::unique_ptr<UplinkEthdev>> OpenAfXdp(const UplinkSpec& spec, const InterfaceInfo& info) {
    const std::string& name = spec.interface();
    const uint32_t channels = CombinedChannels(name);
    if (spec.queues() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("queues: AF_XDP ports have one queue pair (DPDK 22.11's net_af_xdp frees a multi-queue ",
                       "port wrongly); ", name, " has ", channels, " channel(s)"));
    }
    // Checked before DPDK is asked: when net_af_xdp fails to attach it detaches
    // whatever program the interface runs, another application's included.
    if (const XdpProgram other = QueryXdp(info.ifindex); other.id != 0) {
      return absl::FailedPreconditionError(absl::StrCat("mode: AF_XDP on ", name, " failed: ", name,
                                                        " already runs XDP program ", other.id, " (", other.mode,
                                                        "), and AF_XDP needs its own"));
    }
    std::string args = absl::StrCat("iface=", name, ",start_queue=0,queue_count=", spec.queues());
    if (const std::string program = XskProgramPath(); !program.empty()) absl::StrAppend(&args, ",xdp_prog=", program);
    // A port deleted a moment ago may still hold the queue in the kernel
    // (af_xdp_leftovers.h): until its release is surely done, failures are retried.
    // (Fixed before the first try: a failed try releases sockets of its own.)
    const absl::Time retry_until = absl::Now() + (kXskReleaseGrace - SinceLastXskRelease());
    for (;;) {
      absl::StatusOr<rte_mempool*> pool = CreateUmemPool(static_cast<uint16_t>(spec.queues()), "queues");
      if (!pool.ok()) return pool.status();
      DpdkLogCapture log;
      absl::StatusOr<std::unique_ptr<UplinkEthdev>> ethdev = UplinkEthdev::Create(
          absl::StrCat("net_af_xdp_up", next_id_++), args, static_cast<uint16_t>(spec.queues()), *pool);
      if (ethdev.ok()) return ethdev;
      if (absl::Now() < retry_until) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      const std::string reason = log.Text();
      return absl::FailedPreconditionError(
          absl::StrCat("mode: AF_XDP on ", name, " failed: ", reason.empty() ? ethdev.status().message() : reason));
    }
  }

  absl::StatusOr<std::unique_ptr<UplinkEthdev>> OpenAfPacket(const UplinkSpec& spec) {
    const uint16_t queues = static_cast<uint16_t>(spec.queues());
    absl::StatusOr<rte_mempool*> pool = CreatePortPool(queues, kRingSize, "queues");
    if (!pool.ok()) return pool.status();
    DpdkLogCapture log;
    absl::StatusOr<std::unique_ptr<UplinkEthdev>> ethdev =
        UplinkEthdev::Create(absl::StrCat("net_af_packet_up", next_id_++),
                             absl::StrCat("iface=", spec.interface(), ",qpairs=", queues), queues, *pool);
    if (ethdev.ok()) return ethdev;
    const std::string reason = log.Text();
    return absl::FailedPreconditionError(absl::StrCat("interface: AF_PACKET on ", spec.interface(), " failed: ",
                                                      reason.empty() ? ethdev.status().message() : reason));
  }

  // rte_eth_dev_start() has just set the interface's flag to the ethdev's (off); the
  // flag goes back on if the operator had it on, or the spec asks for it.
  absl::Status SetPromiscuous(const UplinkSpec& spec, const InterfaceInfo& before, UplinkEthdev& ethdev,
                              Attachment* attachment) {
    if (!spec.promiscuous() && !before.promiscuous) return absl::OkStatus();
    if (const int rc = rte_eth_promiscuous_enable(ethdev.port_id()); rc != 0) {
      return absl::FailedPreconditionError(absl::StrCat("promiscuous: could not make ", spec.interface(),
                                                        " promiscuous: ", rte_strerror(-rc)));
    }
    attachment->set_promiscuous = !before.promiscuous;
    return absl::OkStatus();
  }

  // "mode: AF_XDP on X failed: why" -> "AF_XDP on X failed: why", for the status.
  static std::string StripField(absl::string_view message) {
    const size_t colon = message.find(": ");
    return std::string(colon == absl::string_view::npos ? message : message.substr(colon + 2));
  }

  const std::string sysfs_net_;
  unsigned next_id_ = 0;
};

}  // namespace
}  // namespace uplink

std::unique_ptr<PortPlugin> MakeUplinkPlugin(const std::string& sysfs_net) {
  return std::make_unique<uplink::UplinkPlugin>(sysfs_net);
}

}  // namespace vhostd
