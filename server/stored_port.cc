#include "server/stored_port.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace vhostd {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

// Format 1's spec fields, the type each became and its spec message. The field names
// inside the specs did not change.
struct Version1Type {
  const char* field;
  const char* type;
  const char* spec_message;
};
constexpr Version1Type kVersion1Types[] = {
    {"vhost_user", "vhost-user", "vhostd.plugins.vhost_user.v1.VhostUserSpec"},
    {"vhost_kernel", "vhost-kernel", "vhostd.plugins.vhost_kernel.v1.VhostKernelSpec"},
    {"vdpa", "vdpa", "vhostd.plugins.vdpa.v1.VdpaSpec"},
};

}  // namespace

absl::StatusOr<Struct> StorePort(const vhostd::v1::Port& port) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(port, &json, print); !s.ok()) {
    return absl::InternalError(absl::StrCat("port ", port.name(), " cannot be stored: ", s.message().ToString()));
  }
  Struct stored;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &stored); !s.ok()) {
    return absl::InternalError(absl::StrCat("port ", port.name(), " cannot be stored: ", s.message().ToString()));
  }
  return stored;
}

absl::StatusOr<vhostd::v1::Port> ParseStoredPort(const Struct& stored) {
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(stored, &json); !s.ok()) {
    return absl::InternalError(std::string(s.message()));
  }
  vhostd::v1::Port port;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &port, parse); !s.ok()) {
    return absl::DataLossError(std::string(s.message()));
  }
  return port;
}

std::string StoredString(const Struct& stored, const std::string& key) {
  auto it = stored.fields().find(key);
  return it != stored.fields().end() && it->second.has_string_value() ? it->second.string_value() : "";
}

google::protobuf::Map<std::string, std::string> StoredLabels(const Struct& stored) {
  google::protobuf::Map<std::string, std::string> labels;
  auto it = stored.fields().find("labels");
  if (it == stored.fields().end() || !it->second.has_struct_value()) return labels;
  for (const auto& [key, value] : it->second.struct_value().fields()) {
    if (value.has_string_value()) labels[key] = value.string_value();
  }
  return labels;
}

std::string StoredSpecType(const Struct& stored) {
  auto spec = stored.fields().find("spec");
  if (spec == stored.fields().end() || !spec->second.has_struct_value()) return "";
  const std::string url = StoredString(spec->second.struct_value(), "@type");
  return url.substr(url.find_last_of('/') + 1);
}

bool StoredSpecTypeKnown(const Struct& stored) {
  const std::string type = StoredSpecType(stored);
  return type.empty() || google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type) != nullptr;
}

void MigrateStoredPortFromVersion1(Struct& stored) {
  auto& fields = *stored.mutable_fields();
  for (const Version1Type& old : kVersion1Types) {
    auto it = fields.find(old.field);
    if (it == fields.end()) continue;
    Value spec = it->second;
    fields.erase(it);
    if (!spec.has_struct_value()) spec.mutable_struct_value();  // a null spec: the defaults
    (*spec.mutable_struct_value()->mutable_fields())["@type"].set_string_value(
        absl::StrCat(kTypeUrlPrefix, old.spec_message));
    fields["type"].set_string_value(old.type);
    fields["spec"] = std::move(spec);
    return;
  }
}

}  // namespace vhostd
