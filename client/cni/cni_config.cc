#include "client/cni/cni_config.h"

#include <grp.h>
#include <pwd.h>

#include <cctype>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cni/cni_env.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_version.h"

namespace vhostd_cni {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& field, const std::string& problem) {
  return CniError(kInvalidConfig, absl::StrCat(field, ": ", problem));
}

absl::StatusOr<json> ParseObject(const std::string& text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    // Parse again for the position of the error (only the throwing API reports it).
    std::string why = "not valid JSON";
    try {
      (void)json::parse(text);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1E400
      why = e.what();
    }
    return CniError(kDecodingFailure, "failed to decode the network config", why);
  }
  if (!document.is_object()) {
    return CniError(kDecodingFailure, "failed to decode the network config", "the config must be a JSON object");
  }
  return document;
}

// Reads `object[key]` as a string into *out; a missing key leaves *out alone unless
// `required`.
absl::Status GetString(const json& object, const char* key, const std::string& field, bool required,
                       std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return required ? Invalid(field, "missing") : absl::OkStatus();
  if (!it->is_string()) return Invalid(field, "must be a string");
  *out = it->get<std::string>();
  if (required && out->empty()) return Invalid(field, "must not be empty");
  return absl::OkStatus();
}

absl::Status GetUint(const json& object, const char* key, const std::string& field, uint64_t min,
                     uint64_t max, uint64_t* out, bool* present) {
  *present = false;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer() || (it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    return Invalid(field, absl::StrCat("must be an integer in ", min, "..", max));
  }
  const uint64_t value = it->get<uint64_t>();
  if (value < min || value > max) return Invalid(field, absl::StrCat("must be in ", min, "..", max));
  *out = value;
  *present = true;
  return absl::OkStatus();
}

// kUnsupportedField for a key of `object` (one of vhostd-cni's own objects) not in `known`.
absl::Status OnlyKnownKeys(const json& object, const std::string& path, const std::set<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key)) {
      return CniError(kUnsupportedField,
                      absl::StrCat(path, ".", key, ": unknown field (value ", value.dump(), ")"),
                      absl::StrCat("known fields of ", path, ": ", absl::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

bool ValidNetworkName(const std::string& name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// A user or group given as a number or a name of this host.
absl::Status GetId(const json& object, const char* key, const std::string& field, bool is_user,
                   std::optional<uint32_t>* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_unsigned() && it->get<uint64_t>() < 0xffffffffu) {
    *out = it->get<uint32_t>();
    return absl::OkStatus();
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return Invalid(field, "must be a numeric ID or a name");
  }
  const std::string name = it->get<std::string>();
  uint32_t numeric;
  if (absl::SimpleAtoi(name, &numeric)) {
    *out = numeric;
  } else if (is_user) {
    const passwd* user = getpwnam(name.c_str());
    if (user == nullptr) return Invalid(field, absl::StrCat("no user \"", name, "\" on this host"));
    *out = user->pw_uid;
  } else {
    const group* entry = getgrnam(name.c_str());
    if (entry == nullptr) return Invalid(field, absl::StrCat("no group \"", name, "\" on this host"));
    *out = entry->gr_gid;
  }
  return absl::OkStatus();
}

absl::Status ParseVhostUser(const json& object, VhostUserOptions* options) {
  if (!object.is_object()) return Invalid("vhostUser", "must be an object");
  if (absl::Status s = OnlyKnownKeys(object, "vhostUser", {"socketDir", "mode", "owner", "group", "permissions"});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = GetString(object, "socketDir", "vhostUser.socketDir", true, &options->socket_dir); !s.ok()) {
    return s;
  }
  if (options->socket_dir[0] != '/') return Invalid("vhostUser.socketDir", "must be an absolute path");
  while (options->socket_dir.size() > 1 && options->socket_dir.back() == '/') options->socket_dir.pop_back();
  std::string mode = "server";
  if (absl::Status s = GetString(object, "mode", "vhostUser.mode", false, &mode); !s.ok()) return s;
  if (mode != "server" && mode != "client") {
    return Invalid("vhostUser.mode", absl::StrCat("\"", mode, "\": must be \"server\" (vhostd listens) or \"client\""));
  }
  options->vhostd_is_server = mode == "server";
  if (absl::Status s = GetId(object, "owner", "vhostUser.owner", true, &options->owner); !s.ok()) return s;
  if (absl::Status s = GetId(object, "group", "vhostUser.group", false, &options->group); !s.ok()) return s;
  std::string permissions;
  if (absl::Status s = GetString(object, "permissions", "vhostUser.permissions", false, &permissions); !s.ok()) {
    return s;
  }
  if (!permissions.empty()) {
    std::optional<uint32_t> parsed = ParseMode(permissions);
    if (!parsed) return Invalid("vhostUser.permissions", "must be octal digits such as \"0660\"");
    options->permissions = *parsed;
  }
  return absl::OkStatus();
}

absl::Status ParseVdpa(const json& object, std::vector<std::string>* devices) {
  if (!object.is_object()) return Invalid("vdpa", "must be an object");
  if (absl::Status s = OnlyKnownKeys(object, "vdpa", {"devices"}); !s.ok()) return s;
  auto it = object.find("devices");
  if (it == object.end() || !it->is_array() || it->empty()) {
    return Invalid("vdpa.devices", "must be a non-empty list of vdpa device names or /dev/vhost-vdpa-N paths");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& device = (*it)[i];
    if (!device.is_string() || device.get<std::string>().empty()) {
      return Invalid(absl::StrCat("vdpa.devices[", i, "]"), "must be a non-empty string");
    }
    devices->push_back(device.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ParseXconnect(const json& object, std::optional<XconnectOptions>* out) {
  if (!object.is_object()) return Invalid("xconnect", "must be an object");
  if (absl::Status s = OnlyKnownKeys(object, "xconnect", {"name", "peer"}); !s.ok()) return s;
  XconnectOptions options;
  if (absl::Status s = GetString(object, "name", "xconnect.name", true, &options.name); !s.ok()) return s;
  if (absl::Status s = GetString(object, "peer", "xconnect.peer", false, &options.peer); !s.ok()) return s;
  *out = options;
  return absl::OkStatus();
}

// "trunkVlans": [10, 20, ...], each 1..4094 once, at least one; absent: no trunk.
absl::Status ParseTrunkVlans(const json& object, std::vector<uint32_t>* vlans) {
  auto it = object.find("trunkVlans");
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array() || it->empty()) return Invalid("bridge.trunkVlans", "must be a non-empty list of VLAN IDs");
  std::set<uint64_t> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string field = absl::StrCat("bridge.trunkVlans[", i, "]");
    const json entry = json::object({{"vlan", (*it)[i]}});
    uint64_t vlan = 0;
    bool present = false;
    if (absl::Status s = GetUint(entry, "vlan", field, 1, 4094, &vlan, &present); !s.ok()) return s;
    if (!present) return Invalid(field, "must be an integer in 1..4094");
    if (!seen.insert(vlan).second) return Invalid(field, absl::StrCat("VLAN ", vlan, " is listed twice"));
    vlans->push_back(static_cast<uint32_t>(vlan));
  }
  return absl::OkStatus();
}

absl::Status ParseBridge(const json& object, std::optional<BridgeOptions>* out) {
  if (!object.is_object()) return Invalid("bridge", "must be an object");
  if (absl::Status s = OnlyKnownKeys(object, "bridge", {"name", "accessVlan", "trunkVlans"}); !s.ok()) return s;
  BridgeOptions options;
  if (absl::Status s = GetString(object, "name", "bridge.name", true, &options.name); !s.ok()) return s;
  uint64_t vlan = 0;
  bool present = false;
  if (absl::Status s = GetUint(object, "accessVlan", "bridge.accessVlan", 1, 4094, &vlan, &present); !s.ok()) {
    return s;
  }
  options.access_vlan = static_cast<uint32_t>(vlan);
  if (absl::Status s = ParseTrunkVlans(object, &options.trunk_vlans); !s.ok()) return s;
  if (options.access_vlan != 0 && !options.trunk_vlans.empty()) {
    return Invalid("bridge.trunkVlans", "a port is an access port (accessVlan) or a trunk, not both");
  }
  *out = options;
  return absl::OkStatus();
}

absl::Status ParseValidAttachments(const json& conf, std::vector<Attachment>* out) {
  auto it = conf.find("cni.dev/valid-attachments");
  if (it == conf.end() || it->is_null()) return absl::OkStatus();  // none valid: all are stale
  if (!it->is_array()) return Invalid("cni.dev/valid-attachments", "must be a list");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& entry = (*it)[i];
    const std::string field = absl::StrCat("cni.dev/valid-attachments[", i, "]");
    if (!entry.is_object()) return Invalid(field, "must be an object");
    Attachment attachment;
    if (absl::Status s = GetString(entry, "containerID", field + ".containerID", true, &attachment.container_id);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = GetString(entry, "ifname", field + ".ifname", true, &attachment.ifname); !s.ok()) return s;
    out->push_back(attachment);
  }
  return absl::OkStatus();
}

absl::Status ParseRuntimeConfig(const json& conf, NetConf* net) {
  auto it = conf.find("runtimeConfig");
  if (it == conf.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Invalid("runtimeConfig", "must be an object");
  if (absl::Status s = GetString(*it, "CNIDeviceInfoFile", "runtimeConfig.CNIDeviceInfoFile", false,
                                 &net->device_info_file);
      !s.ok()) {
    return s;
  }
  if (!net->device_info_file.empty() && net->device_info_file[0] != '/') {
    return Invalid("runtimeConfig.CNIDeviceInfoFile", "must be an absolute path");
  }
  return GetString(*it, "mac", "runtimeConfig.mac", false, &net->mac);
}

absl::Status ParseVersionField(const json& conf, const std::string& command, NetConf* net) {
  if (absl::Status s = GetString(conf, "cniVersion", "cniVersion", true, &net->cni_version); !s.ok()) return s;
  if (absl::Status s = CheckSupported(net->cni_version); !s.ok()) return s;
  const char* minimum = command == "CHECK" ? "0.4.0" : (command == "STATUS" || command == "GC") ? "1.1.0" : nullptr;
  if (minimum && !AtLeast(net->cni_version, minimum)) {
    return CniError(kIncompatibleVersion, absl::StrCat("config version does not allow ", command),
                    absl::StrCat(command, " needs cniVersion ", minimum, " or newer; the config has ", net->cni_version));
  }
  return absl::OkStatus();
}

absl::Status ParseDaemonFields(const json& conf, NetConf* net) {
  if (absl::Status s = GetString(conf, "server", "server", false, &net->server); !s.ok()) return s;
  if (net->server.empty()) return Invalid("server", "must not be empty");
  uint64_t seconds = 0;
  bool present = false;
  if (absl::Status s = GetUint(conf, "timeoutSeconds", "timeoutSeconds", 1, 300, &seconds, &present); !s.ok()) {
    return s;
  }
  if (present) net->timeout_ms = static_cast<int>(seconds * 1000);
  if (absl::Status s = GetString(conf, "stateDir", "stateDir", false, &net->state_dir); !s.ok()) return s;
  if (net->state_dir.empty() || net->state_dir[0] != '/') return Invalid("stateDir", "must be an absolute path");
  return absl::OkStatus();
}

absl::Status ParsePortFields(const json& conf, NetConf* net) {
  if (absl::Status s = GetString(conf, "portType", "portType", true, &net->port_type); !s.ok()) return s;
  if (auto it = conf.find("spec"); it != conf.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("spec", "must be an object (the port type's spec in protobuf JSON)");
    net->spec = *it;
  }
  if (auto it = conf.find("vhostUser"); it != conf.end()) {
    if (absl::Status s = ParseVhostUser(*it, &net->vhost_user); !s.ok()) return s;
  } else if (net->port_type == "vhost-user") {
    return Invalid("vhostUser.socketDir", "missing (vhost-user ports need a socket directory)");
  }
  if (auto it = conf.find("vdpa"); it != conf.end()) {
    if (absl::Status s = ParseVdpa(*it, &net->vdpa_devices); !s.ok()) return s;
  } else if (net->port_type == "vdpa") {
    return Invalid("vdpa.devices", "missing (vdpa ports take a device from this pool)");
  }
  if (auto it = conf.find("xconnect"); it != conf.end() && !it->is_null()) {
    if (absl::Status s = ParseXconnect(*it, &net->xconnect); !s.ok()) return s;
  }
  if (auto it = conf.find("bridge"); it != conf.end() && !it->is_null()) {
    if (absl::Status s = ParseBridge(*it, &net->bridge); !s.ok()) return s;
    if (net->xconnect) return Invalid("bridge", "a port joins a bridge or a cross-connect, not both");
  }
  if (absl::Status s = GetString(conf, "mac", "mac", false, &net->mac); !s.ok()) return s;
  uint64_t mtu = 0;
  bool present = false;
  if (absl::Status s = GetUint(conf, "mtu", "mtu", 68, 9000, &mtu, &present); !s.ok()) return s;
  net->mtu = static_cast<uint32_t>(mtu);
  return absl::OkStatus();
}

absl::Status ParseIpam(const json& conf, NetConf* net) {
  auto it = conf.find("ipam");
  if (it == conf.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Invalid("ipam", "must be an object");
  if (it->empty()) return absl::OkStatus();  // "ipam": {} means none
  if (absl::Status s = GetString(*it, "type", "ipam.type", true, &net->ipam_type); !s.ok()) return s;
  if (net->ipam_type.find('/') != std::string::npos || net->ipam_type == "." || net->ipam_type == "..") {
    return Invalid("ipam.type", "must be a plugin name, not a path");
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<uint32_t> ParseMode(const std::string& text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 0777) return std::nullopt;
  return mode;
}

absl::StatusOr<std::string> ParseVersionRequest(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return std::string();
  absl::StatusOr<json> conf = ParseObject(text);
  if (!conf.ok()) return conf.status();
  std::string version;
  if (absl::Status s = GetString(*conf, "cniVersion", "cniVersion", false, &version); !s.ok()) return s;
  return version;
}

absl::StatusOr<NetConf> ParseNetConf(const std::string& text, const std::string& command) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return CniError(kDecodingFailure, "failed to decode the network config", "stdin is empty");
  }
  absl::StatusOr<json> conf = ParseObject(text);
  if (!conf.ok()) return conf.status();
  NetConf net;
  net.raw = *conf;
  if (absl::Status s = ParseVersionField(*conf, command, &net); !s.ok()) return s;
  if (absl::Status s = GetString(*conf, "name", "name", true, &net.name); !s.ok()) return s;
  if (!ValidNetworkName(net.name)) {
    return Invalid("name", absl::StrCat("\"", net.name, "\": must start with a letter or digit, then letters, digits, '_', '.' or '-'"));
  }
  if (absl::Status s = ParseDaemonFields(*conf, &net); !s.ok()) return s;
  if (absl::Status s = ParsePortFields(*conf, &net); !s.ok()) return s;
  if (absl::Status s = ParseIpam(*conf, &net); !s.ok()) return s;
  if (absl::Status s = ParseRuntimeConfig(*conf, &net); !s.ok()) return s;
  if (auto it = conf->find("prevResult"); it != conf->end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("prevResult", "must be an object");
    net.prev_result = *it;
  }
  if (command == "GC") {
    if (absl::Status s = ParseValidAttachments(*conf, &net.valid_attachments); !s.ok()) return s;
  }
  return net;
}

}  // namespace vhostd_cni
