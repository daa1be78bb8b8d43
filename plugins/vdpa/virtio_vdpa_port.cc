#include "plugins/vdpa/virtio_vdpa_port.h"

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "plugins/vdpa/link_setup.h"
#include "plugins/vdpa/vdpa_bus.h"
#include "plugins/vhost_kernel/netdev.h"

namespace vhostd {
namespace {

using plugins::vdpa::v1::VdpaSpec;
using plugins::vdpa::v1::VdpaStatus;

constexpr char kVhostVdpa[] = "vhost_vdpa";
constexpr char kVirtioVdpa[] = "virtio_vdpa";
// virtio_net registers the interface while virtio_vdpa probes, i.e. within the
// drivers_probe write; the wait only covers a slow udev-less corner.
constexpr int kInterfaceWaitMs = 3000;

std::string WhereIs(const std::string& netns) { return netns.empty() ? "the daemon's namespace" : netns; }

class VirtioVdpaBackend : public PortBackend {
 public:
  VirtioVdpaBackend(VdpaSpec spec, VdpaBinding found, std::string device_mac, VdpaLocations locations)
      : spec_(std::move(spec)), found_(std::move(found)), device_mac_(std::move(device_mac)),
        locations_(std::move(locations)) {}

  // Unbinding destroys the interface wherever it is; then the device goes back. The MAC
  // first: virtio-net wrote it into the device's config space (the control queue's
  // MAC_ADDR_SET), which outlives the binding.
  ~VirtioVdpaBackend() override {
    if (!spec_.mac().empty() && !device_mac_.empty()) {
      if (absl::Status s = SetLinkMac(spec_.interface(), device_mac_, spec_.netns()); !s.ok()) {
        fprintf(stderr, "vdpa: restoring MAC %s of %s: %s\n", device_mac_.c_str(), spec_.device().c_str(),
                std::string(s.message()).c_str());
      }
    }
    if (absl::Status s = RestoreVdpaBinding(spec_.device(), found_, locations_); !s.ok()) {
      fprintf(stderr, "vdpa: putting %s back on %s: %s\n", spec_.device().c_str(),
              found_.driver.empty() ? "no driver" : found_.driver.c_str(), std::string(s.message()).c_str());
    }
  }

  PortIo io() const override { return PortIo{}; }
  uint16_t queues() const override { return 0; }
  uint16_t counted_queues() const override { return 0; }
  QueueCounters* counters() override { return &no_queue_; }
  DriverStats ReadDriverStats() const override { return {}; }
  absl::Status CheckForwardable() const override {
    return absl::FailedPreconditionError(absl::StrCat(
        "bus: VIRTIO_VDPA: the kernel's interface ", spec_.interface(), " carries this device's packets, vhostd has no ",
        "data path for it (use bus VHOST_VDPA to cross-connect the device)"));
  }

  void FillStatus(PortState* port, google::protobuf::Message* type_status) const override {
    const InterfaceState state = ReadInterface(spec_.interface(), spec_.netns());
    port->backend = "virtio-vdpa";
    port->mac = state.mac;
    port->mtu = state.mtu;
    if (!state.exists) {
      port->state = PortLinkState::kError;
      port->message = absl::StrCat("interface ", spec_.interface(), " is gone from ", WhereIs(spec_.netns()));
    } else if (BoundVdpaDriver(spec_.device(), locations_) != kVirtioVdpa) {
      port->state = PortLinkState::kError;
      port->message = absl::StrCat("vdpa device ", spec_.device(), " is no longer bound to virtio_vdpa");
    } else {
      port->state = state.up ? PortLinkState::kUp : PortLinkState::kDown;
    }
    if (VdpaStatus* status = TypedStatus<VdpaStatus>(type_status)) {
      status->set_bus(plugins::vdpa::v1::VIRTIO_VDPA);
      status->set_device(spec_.device());
      status->set_interface(spec_.interface());
      status->set_netns(spec_.netns());
    }
  }

 private:
  const VdpaSpec spec_;
  const VdpaBinding found_;
  const std::string device_mac_;  // the interface's MAC before vhostd set spec.mac
  const VdpaLocations locations_;
  QueueCounters no_queue_;
};

// What must hold before the device is touched.
absl::StatusOr<VdpaBinding> CheckHost(const VdpaSpec& spec, const VdpaLocations& locations) {
  const std::string& device = spec.device();
  if (access(absl::StrCat(locations.sysfs_devices, "/", device).c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("device: no vdpa device named ", device, " (see `vdpa dev show`)"));
  }
  if (!VdpaDriverLoaded(kVirtioVdpa, locations)) {
    return absl::FailedPreconditionError("bus: VIRTIO_VDPA needs the virtio_vdpa driver (modprobe virtio_vdpa)");
  }
  absl::StatusOr<VdpaBinding> found = ReadVdpaBinding(device, locations);
  if (!found.ok()) return absl::FailedPreconditionError(absl::StrCat("device: ", found.status().message()));
  if (found->driver == kVhostVdpa) {
    // Held open by a process (or by another vhostd port): moving it would pull the
    // device from under its user.
    absl::StatusOr<std::string> node = ResolveVhostVdpa(device, locations, "device");
    if (!node.ok()) return node.status();
    if (absl::Status s = CheckNotBusy(*node, "device"); !s.ok()) return s;
  } else if (!found->driver.empty()) {
    const std::vector<std::string> interfaces = VirtioNetInterfaces(device, locations);
    return absl::FailedPreconditionError(
        absl::StrCat("device: vdpa device ", device, " is in use: bound to ", found->driver,
                     interfaces.empty() ? "" : absl::StrCat(" (interface ", absl::StrJoin(interfaces, ", "), ")")));
  }
  if (!spec.netns().empty() && access(spec.netns().c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("netns: ", spec.netns(), " does not exist"));
  }
  if (ReadInterface(spec.interface(), spec.netns()).exists) {
    return absl::FailedPreconditionError(
        absl::StrCat("interface: ", spec.interface(), " already exists in ", WhereIs(spec.netns())));
  }
  return found;
}

// The interface virtio_net made of the device, once it is there.
absl::StatusOr<std::string> WaitForInterface(const std::string& device, const VdpaLocations& locations) {
  for (int waited = 0;; waited += 50) {
    const std::vector<std::string> interfaces = VirtioNetInterfaces(device, locations);
    if (interfaces.size() == 1) return interfaces[0];
    if (interfaces.size() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("device: ", device, " has several interfaces: ", absl::StrJoin(interfaces, ", ")));
    }
    if (waited >= kInterfaceWaitMs) {
      return absl::FailedPreconditionError(absl::StrCat(
          "bus: ", device, " is bound to virtio_vdpa but no network interface appeared (is virtio_net loaded?)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Binds the device and sets its interface up; on error the caller puts the device back.
// Returns the MAC the interface came with (the device's).
absl::StatusOr<std::string> Attach(const VdpaSpec& spec, const VdpaLocations& locations) {
  if (absl::Status s = BindVdpaDevice(spec.device(), kVirtioVdpa, locations); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("bus: ", s.message()));
  }
  absl::StatusOr<std::string> ifname = WaitForInterface(spec.device(), locations);
  if (!ifname.ok()) return ifname.status();
  const std::string device_mac = ReadInterface(*ifname, "").mac;
  if (spec.mtu() != 0) {
    if (absl::Status s = SetLinkMtu(*ifname, spec.mtu()); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("mtu: ", spec.mtu(), " on ", *ifname, ": ", s.message()));
    }
  }
  if (!spec.mac().empty()) {
    if (absl::Status s = SetLinkMac(*ifname, spec.mac()); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("mac: ", spec.mac(), " on ", *ifname, ": ", s.message()));
    }
  }
  if (absl::Status s = MoveLinkUp(*ifname, spec.netns(), spec.interface()); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(spec.netns().empty() ? "interface: " : "netns: ", "moving ",
                                                      *ifname, " to ", spec.interface(), " in ",
                                                      WhereIs(spec.netns()), ": ", s.message()));
  }
  return device_mac;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PortBackend>> OpenVirtioVdpaPort(const VdpaSpec& spec, const VdpaLocations& locations) {
  absl::StatusOr<VdpaBinding> found = CheckHost(spec, locations);
  if (!found.ok()) return found.status();
  absl::StatusOr<std::string> device_mac = Attach(spec, locations);
  if (!device_mac.ok()) {
    const absl::Status& s = device_mac.status();
    if (absl::Status undo = RestoreVdpaBinding(spec.device(), *found, locations); !undo.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "; and putting the device back failed: ", undo.message()));
    }
    return s;
  }
  return std::unique_ptr<PortBackend>(new VirtioVdpaBackend(spec, *found, *device_mac, locations));
}

}  // namespace vhostd
