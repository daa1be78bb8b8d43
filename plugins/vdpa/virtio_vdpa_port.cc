#include "plugins/vdpa/virtio_vdpa_port.h"

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "plugins/vdpa/link_setup.h"
#include "plugins/vdpa/vdpa_bus.h"
#include "plugins/vdpa/vdpa_claim.h"
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

// Where the port's interface is now: where vhostd put it, or, once that namespace is
// gone (the kernel gives a device's interface back to the initial namespace, renamed
// if its name is taken there), the device's interface in the daemon's namespace.
struct InterfacePlace {
  bool found = false;
  std::string name;
  std::string netns;  // "" for the daemon's
};

InterfacePlace LocateInterface(const VdpaSpec& spec, const VdpaLocations& locations) {
  if (ReadInterface(spec.interface(), spec.netns()).exists) return {true, spec.interface(), spec.netns()};
  const std::vector<std::string> here = VirtioNetInterfaces(spec.device(), locations);
  if (here.size() == 1) return {true, here[0], ""};
  return {};
}

bool NetnsGone(const std::string& netns) { return !netns.empty() && access(netns.c_str(), F_OK) != 0; }

// Puts the device back as `claim` found it. The MAC first: virtio-net wrote the spec's
// into the device's config space (the control queue's MAC_ADDR_SET), which outlives the
// binding; a failure there is logged and does not stop the rest. Unbinding then
// destroys the interface wherever it is. The record goes last, once the device is back:
// if rebinding failed, a later port with this spec adopts the device and tries again.
absl::Status GiveBack(const VdpaSpec& spec, const VdpaClaim& claim, const VdpaLocations& locations) {
  if (!claim.device_mac.empty()) {
    const InterfacePlace place = LocateInterface(spec, locations);
    absl::Status s = place.found ? SetLinkMac(place.name, claim.device_mac, place.netns)
                                 : absl::NotFoundError("its interface is nowhere to be found");
    if (!s.ok()) {
      fprintf(stderr, "vdpa: restoring MAC %s of %s: %s\n", claim.device_mac.c_str(), spec.device().c_str(),
              std::string(s.message()).c_str());
    }
  }
  if (absl::Status s = RestoreVdpaBinding(spec.device(), claim.found, locations); !s.ok()) return s;
  RemoveVdpaClaim(spec.device(), locations);
  return absl::OkStatus();
}

class VirtioVdpaBackend : public PortBackend {
 public:
  VirtioVdpaBackend(VdpaSpec spec, VdpaClaim claim, VdpaLocations locations)
      : spec_(std::move(spec)), claim_(std::move(claim)), locations_(std::move(locations)) {}

  ~VirtioVdpaBackend() override {
    if (absl::Status s = GiveBack(spec_, claim_, locations_); !s.ok()) {
      fprintf(stderr, "vdpa: putting %s back on %s: %s (its record %s stays)\n", spec_.device().c_str(),
              claim_.found.driver.empty() ? "no driver" : claim_.found.driver.c_str(),
              std::string(s.message()).c_str(), VdpaClaimPath(spec_.device(), locations_).c_str());
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
    if (NetnsGone(spec_.netns())) {
      port->state = PortLinkState::kError;
      port->message = absl::StrCat("netns ", spec_.netns(), " is gone");
      const InterfacePlace place = LocateInterface(spec_, locations_);
      if (place.found) absl::StrAppend(&port->message, "; the interface is back in the daemon's namespace as ", place.name);
    } else if (!state.exists) {
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
  const VdpaClaim claim_;  // how the device was found (also in its record file)
  const VdpaLocations locations_;
  QueueCounters no_queue_;
};

// What must hold before the device is touched. `claim` is what reading the device's
// record gave (an unusable one is worth naming when the device is found in use).
absl::StatusOr<VdpaBinding> CheckHost(const VdpaSpec& spec, const VdpaLocations& locations,
                                      const absl::Status& claim) {
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
                     interfaces.empty() ? "" : absl::StrCat(" (interface ", absl::StrJoin(interfaces, ", "), ")"),
                     claim.code() == absl::StatusCode::kDataLoss ? absl::StrCat("; ", claim.message()) : ""));
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
// Records the device's MAC in `claim` (and its file) before changing it.
absl::Status Attach(const VdpaSpec& spec, const VdpaLocations& locations, VdpaClaim& claim) {
  if (absl::Status s = BindVdpaDevice(spec.device(), kVirtioVdpa, locations); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("bus: ", s.message()));
  }
  absl::StatusOr<std::string> ifname = WaitForInterface(spec.device(), locations);
  if (!ifname.ok()) return ifname.status();
  if (spec.mtu() != 0) {
    if (absl::Status s = SetLinkMtu(*ifname, spec.mtu()); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("mtu: ", spec.mtu(), " on ", *ifname, ": ", s.message()));
    }
  }
  if (!spec.mac().empty()) {
    claim.device_mac = ReadInterface(*ifname, "").mac;
    if (absl::Status s = WriteVdpaClaim(claim, locations); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("mac: recording the device's own MAC: ", s.message()));
    }
    if (absl::Status s = SetLinkMac(*ifname, spec.mac()); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("mac: ", spec.mac(), " on ", *ifname, ": ", s.message()));
    }
  }
  if (absl::Status s = MoveLinkUp(*ifname, spec.netns(), spec.interface()); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(spec.netns().empty() ? "interface: " : "netns: ", "moving ",
                                                      *ifname, " to ", spec.interface(), " in ",
                                                      WhereIs(spec.netns()), ": ", s.message()));
  }
  return absl::OkStatus();
}

// A device an earlier vhostd moved to virtio_vdpa and did not put back (it was killed):
// the port takes it over as it is, if the record says it was put where this spec wants
// it. The status then tells whether the interface is still there (its namespace may
// have gone meanwhile); deleting the port puts the device back as the record says.
absl::StatusOr<std::unique_ptr<PortBackend>> Adopt(const VdpaSpec& spec, VdpaClaim claim,
                                                   const VdpaLocations& locations) {
  if (claim.interface != spec.interface() || claim.netns != spec.netns()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device: vdpa device ", spec.device(), " is in use: bound to virtio_vdpa by an earlier vhostd as ",
        claim.interface, " in ", WhereIs(claim.netns), " (record ", VdpaClaimPath(spec.device(), locations),
        "), not as this spec's ", spec.interface(), " in ", WhereIs(spec.netns())));
  }
  fprintf(stderr, "vdpa: %s is on virtio_vdpa as %s in %s since an earlier vhostd (record %s): adopting it\n",
          spec.device().c_str(), spec.interface().c_str(), WhereIs(spec.netns()).c_str(),
          VdpaClaimPath(spec.device(), locations).c_str());
  return std::unique_ptr<PortBackend>(new VirtioVdpaBackend(spec, std::move(claim), locations));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PortBackend>> OpenVirtioVdpaPort(const VdpaSpec& spec, const VdpaLocations& locations) {
  absl::StatusOr<VdpaClaim> record = ReadVdpaClaim(spec.device(), locations);
  // A record of a device that is no longer on virtio_vdpa is stale (someone put it
  // back); the fresh bind below replaces it.
  if (record.ok() && BoundVdpaDriver(spec.device(), locations) == kVirtioVdpa) {
    return Adopt(spec, *std::move(record), locations);
  }
  absl::StatusOr<VdpaBinding> found = CheckHost(spec, locations, record.status());
  if (!found.ok()) return found.status();
  VdpaClaim claim{spec.device(), *found, "", spec.interface(), spec.netns()};
  if (absl::Status s = WriteVdpaClaim(claim, locations); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("bus: recording how ", spec.device(), " was bound: ",
                                                      s.message()));
  }
  if (absl::Status s = Attach(spec, locations, claim); !s.ok()) {
    if (absl::Status undo = GiveBack(spec, claim, locations); !undo.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "; and putting the device back failed: ", undo.message()));
    }
    return s;
  }
  return std::unique_ptr<PortBackend>(new VirtioVdpaBackend(spec, std::move(claim), locations));
}

}  // namespace vhostd
