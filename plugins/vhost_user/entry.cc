// The shared object's entry point: what the daemon's loader finds with dlsym().
#include "dataplane/plugin_abi.h"
#include "plugins/vhost_user/vhost_user_plugin.h"

namespace {

void* Create(const vhostd_plugin_config* config) {
  if (config == nullptr || config->socket_dir == nullptr) return nullptr;  // it confines sockets to it
  return vhostd::MakeVhostUserPlugin(config->socket_dir).release();
}

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION,
    "vhost-user",
    "2.0.0",
    "vhost-user backend on a Unix socket (server or client mode), DPDK lib/vhost",
    &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
