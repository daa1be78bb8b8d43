// The shared object's entry point: what the daemon's loader finds with dlsym().
#include "dataplane/plugin_abi.h"
#include "plugins/uplink/uplink_plugin.h"

namespace {

void* Create(const vhostd_plugin_config*) { return vhostd::MakeUplinkPlugin().release(); }

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION,
    "uplink",
    "1.0.0",
    "an existing kernel interface (NIC, bond, VLAN, VXLAN, veth) through AF_XDP, or AF_PACKET (DPDK net_af_xdp, "
    "net_af_packet)",
    &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
