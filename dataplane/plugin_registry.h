// Port-type plugins by type name. Registration is explicit (the daemon lists the types
// it is built with), checked for ABI version and duplicates; lookup is by the spec's case.
#ifndef VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_
#define VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/port_plugin.h"

namespace vhostd {

class PluginRegistry {
 public:
  absl::Status Register(std::unique_ptr<PortPlugin> plugin);
  // nullptr if no plugin serves `port_type`.
  PortPlugin* Find(const std::string& port_type) const;
  std::vector<const PortPlugin*> All() const;  // ordered by type name

 private:
  std::map<std::string, std::unique_ptr<PortPlugin>> plugins_;
};

// The port type name for a Port's spec case ("vhost-user", ...), or "" when unset.
std::string PortTypeOf(const vhostd::v1::Port& port);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PLUGIN_REGISTRY_H_
