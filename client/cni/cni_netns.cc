#include "client/cni/cni_netns.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_exec.h"

namespace vhostd_cni {
namespace {

using nlohmann::json;

bool IsIpv6(const std::string& cidr) { return cidr.find(':') != std::string::npos; }

std::string GatewayFor(const Result& result, int index, bool ipv6) {
  for (const IpConfig& ip : result.ips) {
    if (ip.interface && *ip.interface == index && !ip.gateway.empty() && IsIpv6(ip.address) == ipv6) {
      return ip.gateway;
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::string> NetnsLink::Ip(const std::vector<std::string>& args) {
  absl::StatusOr<std::string> ip = FindProgram("ip", {"/usr/sbin", "/sbin", "/usr/bin", "/bin"});
  if (!ip.ok()) return CniError(kInterfaceSetup, "iproute2's ip is not installed");
  std::vector<std::string> argv = {*ip};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ExecResult> run = Exec({argv, EnvironmentWith({}), "", netns_, timeout_ms_, true});
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return CniError(kInterfaceSetup,
                    absl::StrCat("ip ", absl::StrJoin(args, " "), " in ", netns_, ": ",
                                 absl::StripAsciiWhitespace(run->err)));
  }
  return run->out;
}

absl::StatusOr<bool> NetnsLink::Exists() {
  absl::StatusOr<std::string> out = Ip({"-j", "link", "show"});
  if (!out.ok()) return out.status();
  const json links = json::parse(*out, nullptr, false);
  if (!links.is_array()) return CniError(kInterfaceSetup, "ip -j link show: unexpected output");
  for (const json& link : links) {
    if (link.is_object() && link.value("ifname", std::string()) == ifname_) return true;
  }
  return false;
}

absl::StatusOr<json> NetnsLink::Show() {
  absl::StatusOr<std::string> out = Ip({"-j", "addr", "show", "dev", ifname_});
  if (!out.ok()) return out.status();
  const json links = json::parse(*out, nullptr, false);
  if (!links.is_array() || links.empty() || !links[0].is_object()) {
    return CniError(kInterfaceSetup, absl::StrCat("ip -j addr show dev ", ifname_, ": unexpected output"));
  }
  return links[0];
}

absl::Status NetnsLink::Configure(const Result& result, int index) {
  if (absl::StatusOr<std::string> up = Ip({"link", "set", "dev", ifname_, "up"}); !up.ok()) return up.status();
  for (const IpConfig& ip : result.ips) {
    if (!ip.interface || *ip.interface != index) continue;
    if (absl::StatusOr<std::string> add = Ip({"addr", "add", ip.address, "dev", ifname_}); !add.ok()) {
      return add.status();
    }
  }
  for (const json& route : result.routes) {
    const std::string dst = route["dst"].get<std::string>();
    std::string gw = route.value("gw", std::string());
    if (gw.empty()) gw = GatewayFor(result, index, IsIpv6(dst));
    std::vector<std::string> args = {"route", "add", dst};
    if (!gw.empty()) args.insert(args.end(), {"via", gw});
    args.insert(args.end(), {"dev", ifname_});
    if (absl::StatusOr<std::string> add = Ip(args); !add.ok()) return add.status();
  }
  return absl::OkStatus();
}

absl::Status NetnsLink::Check(const Result& result, int index) {
  absl::StatusOr<bool> exists = Exists();
  if (!exists.ok()) return exists.status();
  if (!*exists) return CniError(kCheckFailed, absl::StrCat("interface ", ifname_, " is missing in ", netns_));
  absl::StatusOr<json> link = Show();
  if (!link.ok()) return link.status();
  const json flags = link->value("flags", json::array());
  if (std::find(flags.begin(), flags.end(), "UP") == flags.end()) {
    return CniError(kCheckFailed, absl::StrCat("interface ", ifname_, " in ", netns_, " is down"));
  }
  std::set<std::string> present;
  for (const json& address : link->value("addr_info", json::array())) {
    present.insert(absl::StrCat(address.value("local", std::string()), "/", address.value("prefixlen", 0)));
  }
  for (const IpConfig& ip : result.ips) {
    if (ip.interface && *ip.interface == index && !present.count(ip.address)) {
      return CniError(kCheckFailed, absl::StrCat("interface ", ifname_, " in ", netns_, " lacks address ", ip.address));
    }
  }
  return absl::OkStatus();
}

}  // namespace vhostd_cni
