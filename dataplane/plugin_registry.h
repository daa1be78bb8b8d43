// Port-type plugins by type name, with where each came from. Registration checks for an
// empty type, a missing spec message and duplicates of either (naming both files);
// lookup is by type name or by the full name of the spec message.
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
  // The type name of the plugin whose spec message is `spec_type` (a full message
  // name, e.g. "vhostd.plugins.vdpa.v1.VdpaSpec"), or "".
  std::string TypeOfSpec(const std::string& spec_type) const;
  std::vector<RegisteredPlugin> All() const;  // ordered by type name

 private:
  struct Entry {
    PluginInfo info;
    std::unique_ptr<PortPlugin> plugin;
  };
  std::map<std::string, Entry> plugins_;
  std::map<std::string, std::string> type_of_spec_;  // spec message -> port type
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_
