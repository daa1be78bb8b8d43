// Prometheus series for bridges, from the counters GetBridge and GetPortStats read.
#ifndef VHOSTD_SERVER_BRIDGE_METRICS_H_
#define VHOSTD_SERVER_BRIDGE_METRICS_H_

#include <vector>

#include "server/text_exposition.h"
#include "vhostd/v1/bridge.pb.h"

namespace vhostd {

// vhostd_bridges; per bridge vhostd_bridge_mac_entries and vhostd_bridge_<counter>_total
// (its ports' counts, including ports that left); per bridge port
// vhostd_bridge_port_<counter>_total.
void AppendBridgeFamilies(TextExposition& text, const std::vector<vhostd::v1::Bridge>& bridges);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_BRIDGE_METRICS_H_
