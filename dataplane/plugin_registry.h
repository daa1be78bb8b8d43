// Port-type plugins by type name, with where each came from. Registration checks for an
// empty type and duplicates (naming both files); lookup is by the spec's case.
#ifndef VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_
#define VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/port_plugin.h"

namespace vhostd {

// What the plugin's descriptor says about it, and the file it was loaded from.
struct PluginInfo {
  std::string port_type;  // as in the API and CLI: "vhost-user", "vhost-kernel", "vdpa"
  std::string version;
  std::string description;
  std::string file;       // the shared object ("" for plugins registered in-process, e.g. tests)
  uint32_t abi_version = 0;
};

struct RegisteredPlugin {
  PluginInfo info;
  const PortPlugin* plugin;
};

class PluginRegistry {
 public:
  absl::Status Register(PluginInfo info, std::unique_ptr<PortPlugin> plugin);
  // nullptr if no plugin serves `port_type`.
  PortPlugin* Find(const std::string& port_type) const;
  std::vector<RegisteredPlugin> All() const;  // ordered by type name

 private:
  struct Entry {
    PluginInfo info;
    std::unique_ptr<PortPlugin> plugin;
  };
  std::map<std::string, Entry> plugins_;
};

// The port type name for a Port's spec case ("vhost-user", ...), or "" when unset.
std::string PortTypeOf(const vhostd::v1::Port& port);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_
