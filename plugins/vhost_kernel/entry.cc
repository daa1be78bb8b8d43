// The shared object's entry point: what the daemon's loader finds with dlsym().
#include "dataplane/plugin_abi.h"
#include "plugins/vhost_kernel/vhost_kernel_plugin.h"

namespace {

void* Create(const vhostd_plugin_config*) { return vhostd::MakeVhostKernelPlugin().release(); }

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION,
    "vhost-kernel",
    "1.0.0",
    "tap interface moved by the kernel's vhost_net (DPDK net_virtio_user), optionally in a netns",
    &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
