// The shared object's entry point: what the daemon's loader finds with dlsym().
#include "dataplane/plugin_abi.h"
#include "plugins/vhost_user/socket_access.h"
#include "plugins/vhost_user/vhost_user_plugin.h"

namespace {

void* Create(const vhostd_plugin_config* config) {
  if (config == nullptr || config->socket_dir == nullptr) return nullptr;  // it confines sockets to it
  // The daemon checked these flags; a value that does not resolve here refuses the plugin.
  absl::StatusOr<vhostd::SocketAccess> access = vhostd::SocketAccessFor(
      vhostd::FormatSocketMode(config->socket_mode), config->socket_owner ? config->socket_owner : "",
      config->socket_group ? config->socket_group : "", vhostd::SocketAccess{});
  if (!access.ok() || config->socket_mode > 0777) return nullptr;
  return vhostd::MakeVhostUserPlugin(config->socket_dir, *access).release();
}

constexpr vhostd_plugin_descriptor kDescriptor = {
    VHOSTD_PLUGIN_ABI_VERSION,
    "vhost-user",
    "2.1.0",
    "vhost-user backend on a Unix socket (server or client mode), DPDK lib/vhost",
    &Create,
};

}  // namespace

extern "C" const vhostd_plugin_descriptor* vhostd_plugin_entry(void) { return &kDescriptor; }
