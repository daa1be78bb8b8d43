#include "dataplane/plugin_registry.h"

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

std::string Origin(const PluginInfo& info) { return info.file.empty() ? "(built in)" : info.file; }

}  // namespace

absl::Status PluginRegistry::Register(PluginInfo info, std::unique_ptr<PortPlugin> plugin) {
  if (info.port_type.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", Origin(info), " has no port type"));
  }
  auto [it, added] = plugins_.try_emplace(info.port_type);
  if (!added) {
    return absl::AlreadyExistsError(absl::StrCat("plugins ", Origin(it->second.info), " and ", Origin(info),
                                                 " both serve port type ", info.port_type));
  }
  it->second = Entry{std::move(info), std::move(plugin)};
  return absl::OkStatus();
}

PortPlugin* PluginRegistry::Find(const std::string& port_type) const {
  auto it = plugins_.find(port_type);
  return it == plugins_.end() ? nullptr : it->second.plugin.get();
}

std::vector<RegisteredPlugin> PluginRegistry::All() const {
  std::vector<RegisteredPlugin> all;
  for (const auto& [type, entry] : plugins_) all.push_back({entry.info, entry.plugin.get()});
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
