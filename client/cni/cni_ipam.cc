#include "client/cni/cni_ipam.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "client/cni/cni_error.h"
#include "client/cni/cni_exec.h"
#include "client/cni/cni_version.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

using nlohmann::json;

// The error a failed plugin printed, with its code kept and "ipam TYPE: " before it.
absl::Status PluginError(const std::string& type, const std::string& command, const ExecResult& run) {
  const json error = json::parse(run.out, nullptr, false);
  const std::string prefix = absl::StrCat("ipam ", type, " ", command, ": ");
  if (error.is_object() && error.contains("code") && error["code"].is_number_integer()) {
    const std::string msg = error.value("msg", std::string("failed"));
    const std::string details = error.value("details", std::string());
    return CniError(error["code"].get<int>(), prefix + msg, details);
  }
  return CniError(kDelegateFailed, absl::StrCat(prefix, "exited with ", run.exit_code),
                  run.out.substr(0, 1000));
}

}  // namespace

absl::StatusOr<std::string> Ipam::Program() {
  if (!program_) {
    absl::StatusOr<std::string> path = FindProgram(net_.ipam_type, SplitCniPath(env_.path));
    if (!path.ok()) return WithPrefix(path.status(), "ipam.type: ");
    program_ = *path;
  }
  return *program_;
}

absl::StatusOr<std::string> Ipam::VersionFor(const std::string& wanted) {
  if (!their_versions_) {
    absl::StatusOr<std::string> program = Program();
    if (!program.ok()) return program.status();
    absl::StatusOr<ExecResult> run =
        Exec({{*program}, EnvironmentWith({"CNI_COMMAND=VERSION"}), json{{"cniVersion", wanted}}.dump(), "",
              net_.timeout_ms});
    if (!run.ok()) return WithPrefix(run.status(), "ipam: ");
    if (run->exit_code != 0) return PluginError(net_.ipam_type, "VERSION", *run);
    const json reply = json::parse(run->out, nullptr, false);
    std::vector<std::string> versions;
    if (reply.is_object() && reply.contains("supportedVersions") && reply["supportedVersions"].is_array()) {
      for (const json& v : reply["supportedVersions"]) {
        if (v.is_string()) versions.push_back(v.get<std::string>());
      }
    }
    their_versions_ = versions;
  }
  if (std::find(their_versions_->begin(), their_versions_->end(), wanted) != their_versions_->end()) return wanted;
  std::optional<std::string> common = NegotiateVersion(wanted, *their_versions_);
  if (!common) {
    return CniError(kIncompatibleVersion, absl::StrCat("ipam ", net_.ipam_type, ": speaks no version vhostd-cni speaks"),
                    absl::StrCat("wanted ", wanted));
  }
  return *common;
}

absl::StatusOr<std::string> Ipam::Run(const std::string& command, const std::string& version,
                                      const std::vector<std::string>& env_overrides) {
  absl::StatusOr<std::string> program = Program();
  if (!program.ok()) return program.status();
  json conf = net_.raw;
  conf["cniVersion"] = version;
  if (conf.contains("prevResult") && version != net_.cni_version) {
    absl::StatusOr<Result> prev = ParseResult(conf["prevResult"], "prevResult");
    if (!prev.ok()) return prev.status();
    json converted = FormatResult(*prev, version);
    converted.erase("cniVersion");
    conf["prevResult"] = converted;
  }
  std::vector<std::string> overrides = env_overrides;
  overrides.push_back("CNI_COMMAND=" + command);
  absl::StatusOr<ExecResult> run = Exec({{*program}, EnvironmentWith(overrides), conf.dump(), "", net_.timeout_ms});
  if (!run.ok()) return WithPrefix(run.status(), absl::StrCat("ipam ", net_.ipam_type, " ", command, ": "));
  if (run->exit_code != 0) return PluginError(net_.ipam_type, command, *run);
  return run->out;
}

absl::StatusOr<Result> Ipam::Add() {
  absl::StatusOr<std::string> version = VersionFor(net_.cni_version);
  if (!version.ok()) return version.status();
  absl::StatusOr<std::string> out = Run("ADD", *version, {});
  if (!out.ok()) return out.status();
  const json reply = json::parse(*out, nullptr, false);
  absl::StatusOr<Result> result = ParseResult(reply, "ipam result");
  if (!result.ok()) return CniError(kDelegateFailed, std::string(result.status().message()), out->substr(0, 1000));
  return result;
}

absl::Status Ipam::Del(const std::string& container_id, const std::string& ifname) {
  absl::StatusOr<std::string> version = VersionFor(net_.cni_version);
  if (!version.ok()) return version.status();
  return Run("DEL", *version, {"CNI_CONTAINERID=" + container_id, "CNI_IFNAME=" + ifname}).status();
}

absl::Status Ipam::Check() {
  absl::StatusOr<std::string> version = VersionFor(net_.cni_version);
  if (!version.ok()) return version.status();
  if (!AtLeast(*version, "0.4.0")) return absl::OkStatus();  // it has no CHECK
  return Run("CHECK", *version, {}).status();
}

absl::Status Ipam::Status(bool* forwarded) {
  *forwarded = false;
  absl::StatusOr<std::string> version = VersionFor(kLatestVersion);
  if (!version.ok()) return version.status();
  if (*version != kLatestVersion) return absl::OkStatus();
  *forwarded = true;
  return Run("STATUS", *version, {}).status();
}

absl::Status Ipam::Gc(bool* forwarded) {
  *forwarded = false;
  absl::StatusOr<std::string> version = VersionFor(kLatestVersion);
  if (!version.ok()) return version.status();
  if (*version != kLatestVersion) return absl::OkStatus();
  *forwarded = true;
  return Run("GC", *version, {}).status();
}

}  // namespace vhostd_cni
