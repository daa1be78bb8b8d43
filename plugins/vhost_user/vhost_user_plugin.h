// The vhost-user port type: vhostd is the vhost-user backend on a Unix socket, built on
// DPDK's lib/vhost (socket, protocol, guest memory, rings) used directly, so the
// number of ports is not bounded by DPDK's ethdev port limit.
#ifndef VHOSTD_PLUGINS_VHOST_USER_VHOST_USER_PLUGIN_H_
#define VHOSTD_PLUGINS_VHOST_USER_VHOST_USER_PLUGIN_H_

#include <memory>
#include <string>

#include "dataplane/port_plugin.h"
#include "plugins/vhost_user/socket_access.h"

namespace vhostd {

// `socket_dir`: every socket path must resolve inside it. `socket_access`: the mode,
// owner and group of server-mode sockets whose spec does not say.
std::unique_ptr<PortPlugin> MakeVhostUserPlugin(const std::string& socket_dir, const SocketAccess& socket_access);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_VHOST_USER_PLUGIN_H_
