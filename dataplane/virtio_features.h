// Names of virtio-net feature bits, for port status.
#ifndef VHOSTD_DATAPLANE_VIRTIO_FEATURES_H_
#define VHOSTD_DATAPLANE_VIRTIO_FEATURES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vhostd {

// The names of the set bits in `features`, lowest bit first ("MRG_RXBUF", "VERSION_1",
// ...); unknown bits appear as "BIT_<n>".
std::vector<std::string> VirtioFeatureNames(uint64_t features);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_VIRTIO_FEATURES_H_
