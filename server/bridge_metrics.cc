#include "server/bridge_metrics.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

using vhostd::v1::Bridge;
using vhostd::v1::BridgeCounters;

struct CounterFamily {
  const char* name;  // vhostd_bridge_<name>_total, vhostd_bridge_port_<name>_total
  const char* help;
  uint64_t (BridgeCounters::*value)() const;
};

constexpr CounterFamily kCounters[] = {
    {"flooded", "Frames sent to every other port of their VLAN (broadcast, multicast, unknown unicast).",
     &BridgeCounters::flooded},
    {"learned", "MAC addresses learned, new or moved from another port.", &BridgeCounters::learned},
    {"table_full", "MAC addresses not learned because the MAC table was full.", &BridgeCounters::table_full},
    {"vlan_dropped", "Frames the receiving port's VLAN rule refused.", &BridgeCounters::vlan_dropped},
};

}  // namespace

void AppendBridgeFamilies(TextExposition& text, const std::vector<Bridge>& bridges) {
  text.Family("vhostd_bridges", "Bridges.", "gauge");
  text.Sample("vhostd_bridges", "", uint64_t{bridges.size()});
  text.Family("vhostd_bridge_mac_entries", "MAC addresses the bridge has learned now.", "gauge");
  for (const Bridge& b : bridges) {
    text.Sample("vhostd_bridge_mac_entries", TextExposition::Label("bridge", b.name()), uint64_t{b.mac_entries()});
  }
  for (const CounterFamily& family : kCounters) {
    const std::string bridge_name = absl::StrCat("vhostd_bridge_", family.name, "_total");
    text.Family(bridge_name, absl::StrCat(family.help, " Per bridge."), "counter");
    for (const Bridge& b : bridges) {
      text.Sample(bridge_name, TextExposition::Label("bridge", b.name()), (b.counters().*family.value)());
    }
    const std::string port_name = absl::StrCat("vhostd_bridge_port_", family.name, "_total");
    text.Family(port_name, absl::StrCat(family.help, " Per port, counted where frames are received."), "counter");
    for (const Bridge& b : bridges) {
      for (const vhostd::v1::BridgePort& p : b.ports()) {
        text.Sample(port_name,
                    absl::StrCat(TextExposition::Label("bridge", b.name()), ",", TextExposition::Label("port", p.port())),
                    (p.counters().*family.value)());
      }
    }
  }
}

}  // namespace vhostd
