// The shared object's entry point: what the daemon's loader finds with dlsym().
#include "dataplane/plugin_abi.h"
#include "plugins/vdpa/vdpa_plugin.h"

namespace {

void* Create(const vhostd_plugin_config*) { return vhostd::MakeVdpaPlugin().release(); }

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION,
    "vdpa",
    "1.0.0",
    "vhost-vdpa device (/dev/vhost-vdpa-N or a vdpa device name), DPDK net_virtio_user",
    &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
