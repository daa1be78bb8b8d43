#include "client/cni/cni_port_spec.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cni/cni_error.h"
#include "client/spec_flags.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

using nlohmann::json;

// The fields vhostd-cni sets for `type`, with the values for this attachment.
absl::StatusOr<json> OwnedFields(const NetConf& net, const Environment& env, const AttachmentNames& names,
                                 const std::string& vdpa_device) {
  json owned = json::object();
  if (net.port_type == "vhost-user") {
    owned["socketPath"] = names.socket_path;
    owned["mode"] = net.vhost_user.vhostd_is_server ? "MODE_SERVER" : "MODE_CLIENT";
  } else if (net.port_type == "vhost-kernel") {
    owned["tapName"] = env.ifname;
    owned["netns"] = env.netns;
    if (!net.mac.empty()) owned["mac"] = net.mac;
    if (net.mtu != 0) owned["mtu"] = net.mtu;
  } else if (net.port_type == "vdpa") {
    owned["device"] = vdpa_device;
  }
  return owned;
}

}  // namespace

absl::StatusOr<vhostd::v1::Port> BuildPort(const NetConf& net, const Environment& env,
                                           const AttachmentNames& names, const std::string& vdpa_device,
                                           vhostctl::TypeCatalog& catalog) {
  const vhostd::v1::Plugin* plugin = catalog.FindPlugin(net.port_type);
  if (plugin == nullptr) {
    return CniError(kInvalidConfig, absl::StrCat("portType: vhostd serves no port type \"", net.port_type, "\""),
                    absl::StrCat("it serves: ", catalog.TypeNames()));
  }
  if (!plugin->available()) {
    return CniError(kDaemonRefused, absl::StrCat("portType: ", net.port_type, " is unavailable on this host: ",
                                                 plugin->unavailable_reason()));
  }
  absl::StatusOr<json> owned = OwnedFields(net, env, names, vdpa_device);
  if (!owned.ok()) return owned.status();
  json spec = net.spec;
  for (const auto& [key, value] : owned->items()) {
    if (spec.contains(key)) {
      return CniError(kInvalidConfig, absl::StrCat("spec.", key, ": set by vhostd-cni for ", net.port_type,
                                                   " ports (", value.dump(), " for this attachment)"));
    }
    spec[key] = value;
  }
  vhostd::v1::Port port;
  port.set_name(names.port);
  port.set_type(net.port_type);
  if (plugin->spec_type().empty()) {
    if (!spec.empty()) return CniError(kInvalidConfig, absl::StrCat("spec: ", net.port_type, " ports take no spec"));
    return port;
  }
  const google::protobuf::Descriptor* type = catalog.FindMessage(plugin->spec_type());
  if (type == nullptr) {
    return CniError(kDaemonRefused, absl::StrCat("vhostd describes no message ", plugin->spec_type()));
  }
  std::unique_ptr<google::protobuf::Message> message = catalog.New(type);
  if (absl::Status s = vhostctl::ParseSpecJson(spec.dump(), message.get()); !s.ok()) {
    std::string why(s.message());
    if (absl::StartsWith(why, "--spec: ")) why = why.substr(8);
    return CniError(kInvalidConfig, absl::StrCat("spec: ", why));
  }
  port.mutable_spec()->set_type_url(absl::StrCat(vhostctl::kTypeUrlPrefix, "/", type->full_name()));
  port.mutable_spec()->set_value(message->SerializeAsString());
  return port;
}

std::string StringField(const google::protobuf::Message& message, const std::string& json_name) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = type->field(i);
    if (field->json_name() == json_name && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !field->is_repeated()) {
      return message.GetReflection()->GetString(message, field);
    }
  }
  return "";
}

std::string SpecString(vhostctl::TypeCatalog& catalog, const vhostd::v1::Port& port, const std::string& json_name) {
  std::string why;
  std::unique_ptr<google::protobuf::Message> spec = catalog.Unpack(port.spec(), &why);
  return spec == nullptr ? "" : StringField(*spec, json_name);
}

absl::StatusOr<std::string> PickDevice(const std::vector<std::string>& pool, const std::set<std::string>& used) {
  for (const std::string& device : pool) {
    if (!used.count(device)) return device;
  }
  return CniError(kResourceExhausted, "vdpa.devices: every device of the pool is in use",
                  absl::StrCat("pool: ", absl::StrJoin(pool, ", ")));
}

}  // namespace vhostd_cni
