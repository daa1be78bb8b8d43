#include "dataplane/plugin_registry.h"

#include "absl/strings/str_cat.h"

namespace vhostd {

absl::Status PluginRegistry::Register(std::unique_ptr<PortPlugin> plugin) {
  const PluginInfo info = plugin->Info();
  if (info.abi_major != kPluginAbiMajor) {
    return absl::FailedPreconditionError(absl::StrCat("plugin ", info.port_type, " has ABI ", info.abi_major,
                                                      ", the daemon ", kPluginAbiMajor));
  }
  if (info.port_type.empty()) return absl::InvalidArgumentError("plugin has no port type");
  if (!plugins_.emplace(info.port_type, std::move(plugin)).second) {
    return absl::AlreadyExistsError(absl::StrCat("two plugins for port type ", info.port_type));
  }
  return absl::OkStatus();
}

PortPlugin* PluginRegistry::Find(const std::string& port_type) const {
  auto it = plugins_.find(port_type);
  return it == plugins_.end() ? nullptr : it->second.get();
}

std::vector<const PortPlugin*> PluginRegistry::All() const {
  std::vector<const PortPlugin*> all;
  for (const auto& [type, plugin] : plugins_) all.push_back(plugin.get());
  return all;
}

std::string PortTypeOf(const vhostd::v1::Port& port) {
  switch (port.spec_case()) {
    case vhostd::v1::Port::kVhostUser: return "vhost-user";
    case vhostd::v1::Port::kVhostKernel: return "vhost-kernel";
    case vhostd::v1::Port::kVdpa: return "vdpa";
    case vhostd::v1::Port::SPEC_NOT_SET: return "";
  }
  return "";
}

}  // namespace vhostd
