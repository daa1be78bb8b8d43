#include "client/cni/cni_result.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_version.h"

namespace vhostd_cni {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& field, const std::string& problem) {
  return CniError(kDecodingFailure, absl::StrCat(field, ": ", problem));
}

std::string StringOr(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::Status ParseInterfaces(const json& list, const std::string& field, Result* result) {
  if (!list.is_array()) return Bad(field, "must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
      return Bad(absl::StrCat(field, "[", i, "]"), "must be an object with a name");
    }
    Interface interface;
    interface.name = entry["name"].get<std::string>();
    interface.mac = StringOr(entry, "mac");
    interface.sandbox = StringOr(entry, "sandbox");
    interface.socket_path = StringOr(entry, "socketPath");
    interface.pci_id = StringOr(entry, "pciID");
    if (auto mtu = entry.find("mtu"); mtu != entry.end() && mtu->is_number_unsigned()) {
      interface.mtu = mtu->get<uint32_t>();
    }
    result->interfaces.push_back(interface);
  }
  return absl::OkStatus();
}

absl::Status ParseIps(const json& list, const std::string& field, Result* result) {
  if (!list.is_array()) return Bad(field, "must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& entry = list[i];
    const std::string where = absl::StrCat(field, "[", i, "]");
    if (!entry.is_object()) return Bad(where, "must be an object");
    IpConfig ip;
    ip.address = StringOr(entry, "address");
    if (!ValidCidr(ip.address)) return Bad(where + ".address", absl::StrCat("\"", ip.address, "\" is not CIDR"));
    ip.gateway = StringOr(entry, "gateway");
    if (auto index = entry.find("interface"); index != entry.end() && !index->is_null()) {
      if (!index->is_number_integer() || index->get<int64_t>() < 0) return Bad(where + ".interface", "must be an index");
      ip.interface = index->get<int>();
    }
    result->ips.push_back(ip);
  }
  return absl::OkStatus();
}

}  // namespace

bool ValidCidr(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  const std::string address = text.substr(0, slash);
  int prefix;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &prefix) || prefix < 0) return false;
  unsigned char buffer[16];
  if (inet_pton(AF_INET, address.c_str(), buffer) == 1) return prefix <= 32;
  if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) return prefix <= 128;
  return false;
}

absl::StatusOr<Result> ParseResult(const json& document, const std::string& field) {
  if (!document.is_object()) return Bad(field, "must be an object");
  Result result;
  if (auto it = document.find("interfaces"); it != document.end() && !it->is_null()) {
    if (absl::Status s = ParseInterfaces(*it, field + ".interfaces", &result); !s.ok()) return s;
  }
  if (auto it = document.find("ips"); it != document.end() && !it->is_null()) {
    if (absl::Status s = ParseIps(*it, field + ".ips", &result); !s.ok()) return s;
  }
  for (const IpConfig& ip : result.ips) {
    if (ip.interface && *ip.interface >= static_cast<int>(result.interfaces.size())) {
      return Bad(field + ".ips", absl::StrCat("interface index ", *ip.interface, " is out of range"));
    }
  }
  if (auto it = document.find("routes"); it != document.end() && !it->is_null()) {
    if (!it->is_array()) return Bad(field + ".routes", "must be a list");
    for (const json& route : *it) {
      if (!route.is_object() || !route.contains("dst") || !route["dst"].is_string() ||
          !ValidCidr(route["dst"].get<std::string>())) {
        return Bad(field + ".routes", absl::StrCat("not a route with a CIDR dst: ", route.dump()));
      }
      result.routes.push_back(route);
    }
  }
  if (auto it = document.find("dns"); it != document.end() && !it->is_null()) {
    if (!it->is_object()) return Bad(field + ".dns", "must be an object");
    result.dns = *it;
  }
  return result;
}

json FormatResult(const Result& result, const std::string& version) {
  const bool v110 = AtLeast(version, "1.1.0");
  const bool ip_versions = !AtLeast(version, "1.0.0");
  json out = {{"cniVersion", version}};
  json interfaces = json::array();
  for (const Interface& interface : result.interfaces) {
    json entry = {{"name", interface.name}};
    if (!interface.mac.empty()) entry["mac"] = interface.mac;
    if (v110 && interface.mtu != 0) entry["mtu"] = interface.mtu;
    if (!interface.sandbox.empty()) entry["sandbox"] = interface.sandbox;
    if (v110 && !interface.socket_path.empty()) entry["socketPath"] = interface.socket_path;
    if (v110 && !interface.pci_id.empty()) entry["pciID"] = interface.pci_id;
    interfaces.push_back(entry);
  }
  if (!interfaces.empty()) out["interfaces"] = interfaces;
  json ips = json::array();
  for (const IpConfig& ip : result.ips) {
    json entry;
    if (ip_versions) entry["version"] = ip.address.find(':') == std::string::npos ? "4" : "6";
    entry["address"] = ip.address;
    if (!ip.gateway.empty()) entry["gateway"] = ip.gateway;
    if (ip.interface) entry["interface"] = *ip.interface;
    ips.push_back(entry);
  }
  if (!ips.empty()) out["ips"] = ips;
  json routes = json::array();
  for (json route : result.routes) {
    if (!v110) {
      for (const char* newer : {"mtu", "advmss", "priority", "table", "scope"}) route.erase(newer);
    }
    routes.push_back(route);
  }
  if (!routes.empty()) out["routes"] = routes;
  if (!result.dns.is_null() && !result.dns.empty()) out["dns"] = result.dns;
  return out;
}

}  // namespace vhostd_cni
