#include "dataplane/virtio_features.h"

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

// Bit numbers from the virtio 1.2 specification (device type net, plus reserved bits).
const char* FeatureName(int bit) {
  switch (bit) {
    case 0: return "CSUM";
    case 1: return "GUEST_CSUM";
    case 2: return "CTRL_GUEST_OFFLOADS";
    case 3: return "MTU";
    case 5: return "MAC";
    case 7: return "GUEST_TSO4";
    case 8: return "GUEST_TSO6";
    case 9: return "GUEST_ECN";
    case 10: return "GUEST_UFO";
    case 11: return "HOST_TSO4";
    case 12: return "HOST_TSO6";
    case 13: return "HOST_ECN";
    case 14: return "HOST_UFO";
    case 15: return "MRG_RXBUF";
    case 16: return "STATUS";
    case 17: return "CTRL_VQ";
    case 18: return "CTRL_RX";
    case 19: return "CTRL_VLAN";
    case 21: return "GUEST_ANNOUNCE";
    case 22: return "MQ";
    case 23: return "CTRL_MAC_ADDR";
    case 24: return "NOTIFY_ON_EMPTY";
    case 26: return "LOG_ALL";
    case 27: return "ANY_LAYOUT";
    case 28: return "RING_INDIRECT_DESC";
    case 29: return "RING_EVENT_IDX";
    case 30: return "PROTOCOL_FEATURES";
    case 32: return "VERSION_1";
    case 33: return "ACCESS_PLATFORM";
    case 34: return "RING_PACKED";
    case 35: return "IN_ORDER";
    case 36: return "ORDER_PLATFORM";
    case 37: return "SR_IOV";
    case 38: return "NOTIFICATION_DATA";
    default: return nullptr;
  }
}

}  // namespace

std::vector<std::string> VirtioFeatureNames(uint64_t features) {
  std::vector<std::string> names;
  for (int bit = 0; bit < 64; ++bit) {
    if ((features >> bit & 1) == 0) continue;
    const char* name = FeatureName(bit);
    names.push_back(name ? name : absl::StrCat("BIT_", bit));
  }
  return names;
}

}  // namespace vhostd
