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
  if (auto it = plugins_.find(info.port_type); it != plugins_.end()) {
    return absl::AlreadyExistsError(absl::StrCat("plugins ", Origin(it->second.info), " and ", Origin(info),
                                                 " both serve port type ", info.port_type));
  }
  if (plugin->spec_type() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", Origin(info), " has no spec message"));
  }
  const std::string& spec = plugin->spec_type()->full_name();
  if (auto it = type_of_spec_.find(spec); it != type_of_spec_.end()) {
    return absl::AlreadyExistsError(absl::StrCat("plugins ", Origin(plugins_.at(it->second).info), " and ",
                                                 Origin(info), " both use spec message ", spec));
  }
  type_of_spec_[spec] = info.port_type;
  const std::string type = info.port_type;
  plugins_[type] = Entry{std::move(info), std::move(plugin)};
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

std::string PluginRegistry::TypeOfSpec(const std::string& spec_type) const {
  auto it = type_of_spec_.find(spec_type);
  return it == type_of_spec_.end() ? "" : it->second;
}

}  // namespace vhostd
