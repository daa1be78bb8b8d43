#include "server/plugin_messages.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.pb.h"

namespace vhostd {
namespace {

void AddFile(const google::protobuf::FileDescriptor* file, std::set<std::string>* seen,
             google::protobuf::FileDescriptorSet* out) {
  if (!seen->insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddFile(file->dependency(i), seen, out);
  file->CopyTo(out->add_file());
}

}  // namespace

absl::Status InSpec(const absl::Status& status, const google::protobuf::Descriptor& spec_type) {
  const std::string message(status.message());
  const size_t end = message.find_first_of(":.[ ");
  if (status.ok() || end == std::string::npos || message[end] == ' ') return status;
  if (spec_type.FindFieldByName(message.substr(0, end)) == nullptr) return status;
  return absl::Status(status.code(), absl::StrCat("port.spec.", message));
}

void DescribeMessages(const PortPlugin& port_plugin, vhostd::v1::Plugin* plugin) {
  std::set<std::string> seen;
  plugin->set_spec_type(port_plugin.spec_type()->full_name());
  AddFile(port_plugin.spec_type()->file(), &seen, plugin->mutable_descriptors());
  if (const google::protobuf::Descriptor* status = port_plugin.status_type()) {
    plugin->set_status_type(status->full_name());
    AddFile(status->file(), &seen, plugin->mutable_descriptors());
  }
}

std::string LoadedTypes(const PluginRegistry& plugins) {
  std::vector<std::string> types;
  for (const RegisteredPlugin& plugin : plugins.All()) types.push_back(plugin.info.port_type);
  return types.empty() ? "no plugin is loaded" : absl::StrJoin(types, ", ");
}

}  // namespace vhostd
