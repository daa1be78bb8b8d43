// What vhostd remembers about a vdpa device it moved to virtio_vdpa, outside its own
// process: a small record per device (a VdpaClaimRecord in protobuf text format) under
// VdpaLocations::claims_dir (a tmpfs under /run, so it lives exactly as long as the
// kernel state it describes, until reboot).
// It is written before the device is touched and removed once the device is back, so
// a daemon killed in between can, after its restart, recognise the device as its own
// (adopt it, instead of refusing it as "in use") and still put it back as it was found:
// driver, driver_override and the MAC that virtio-net overwrote in its config space.
#ifndef VHOSTD_PLUGINS_VDPA_VDPA_CLAIM_H_
#define VHOSTD_PLUGINS_VDPA_VDPA_CLAIM_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugins/vdpa/vdpa_bus.h"
#include "plugins/vdpa/vdpa_device.h"

namespace vhostd {

struct VdpaClaim {
  std::string device;      // the vdpa device (the record's file name)
  VdpaBinding found;       // how it was bound before vhostd moved it
  std::string device_mac;  // its MAC before vhostd set the spec's; "" until vhostd is about to change it
  std::string interface;   // where vhostd put its interface: name ...
  std::string netns;       // ... and namespace path ("" for the daemon's own)
};

// Writes (or replaces) the record atomically (temporary file + rename), creating
// claims_dir (mode 0700) if needed.
absl::Status WriteVdpaClaim(const VdpaClaim& claim, const VdpaLocations& locations);

// The record of `device`: NOT_FOUND if there is none; DATA_LOSS, naming the file and
// the line, if it does not parse or holds a value vhostd would never have written
// (the file is input like any other: a bad one must not make vhostd bind a device
// to an arbitrary driver).
absl::StatusOr<VdpaClaim> ReadVdpaClaim(const std::string& device, const VdpaLocations& locations);

// Removes the record of `device`, if any.
void RemoveVdpaClaim(const std::string& device, const VdpaLocations& locations);

// The record's file.
std::string VdpaClaimPath(const std::string& device, const VdpaLocations& locations);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VDPA_VDPA_CLAIM_H_
