/* The boundary between vhostd and a port-type plugin: a shared object that exports one
 * C symbol, VHOSTD_PLUGIN_ENTRY_SYMBOL, returning a descriptor. This header is C so
 * that the entry point and the descriptor can be read with dlsym() and checked before
 * anything else about the plugin is trusted.
 *
 * What crosses beyond the descriptor is C++: create() returns a vhostd::PortPlugin
 * (dataplane/port_plugin.h), and the daemon calls it with the plugin's own protobuf
 * messages (as google::protobuf::Message, made from the descriptors the plugin
 * registered when it was loaded), vhostd::PortState and vhostd::PluginContext. No
 * vhostd API message crosses. That is sound only because the daemon and every plugin
 * are built by the same Debian toolchain against the same shared libstdc++, Abseil,
 * protobuf and DPDK; abi_version pins the layouts. See docs/ARCHITECTURE.md ("Plugins").
 *
 * Bump VHOSTD_PLUGIN_ABI_VERSION whenever a plugin built before the change could
 * misbehave with a daemon built after it: any change to plugin_abi.h's structs, to the
 * classes in port_plugin.h (virtual functions added, removed, reordered or re-typed;
 * members of PluginContext or PortState, port_state.h; QueueCounters, queue_counters.h,
 * which plugins allocate), or to a daemon function plugins
 * call (port_pool.h, vdev_port.h, ethdev_io.h, offload.h, virtio_features.h). A
 * plugin's own messages are its business: they travel as bytes in the API. The entry symbol's name and
 * abi_version's place as the descriptor's first member never change, so the daemon can
 * always say which version an old plugin was built for.
 */
#ifndef VHOSTD_DATAPLANE_PLUGIN_ABI_H_
#define VHOSTD_DATAPLANE_PLUGIN_ABI_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VHOSTD_PLUGIN_ABI_VERSION 5u
#define VHOSTD_PLUGIN_ENTRY_SYMBOL "vhostd_plugin_entry"

/* Daemon-wide settings a plugin may need when it is created. */
typedef struct vhostd_plugin_config {
  const char* socket_dir;   /* --socket-dir: vhost-user sockets must resolve inside it */
  uint32_t socket_mode;     /* --socket-mode: permission bits of sockets a plugin creates */
  const char* socket_owner; /* --socket-owner: their owner (numeric uid), "" for the daemon's */
  const char* socket_group; /* --socket-group: their group (numeric gid), "" for the daemon's */
} vhostd_plugin_config;

typedef struct vhostd_plugin_descriptor {
  uint32_t abi_version;    /* VHOSTD_PLUGIN_ABI_VERSION the plugin was built with; first, always */
  const char* port_type;   /* as in the API and CLI: "vhost-user", "vhost-kernel", "vdpa", "uplink" */
  const char* version;     /* the plugin's own version */
  const char* description;
  /* A new vhostd::PortPlugin (owned by the caller, deleted through its virtual
   * destructor), or NULL when the plugin cannot work with `config`. */
  void* (*create)(const vhostd_plugin_config* config);
} vhostd_plugin_descriptor;

typedef const vhostd_plugin_descriptor* (*vhostd_plugin_entry_fn)(void);

/* What each plugin defines (and nothing else is exported from it). */
const vhostd_plugin_descriptor* vhostd_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* VHOSTD_DATAPLANE_PLUGIN_ABI_H_ */
