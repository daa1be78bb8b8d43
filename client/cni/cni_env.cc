#include "client/cni/cni_env.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cni/cni_error.h"

namespace vhostd_cni {
namespace {

struct Needs {
  bool container_id, netns, ifname, path;
};

// Which variables each command requires (SPEC.md, section 2).
bool NeedsOf(const std::string& command, Needs* needs) {
  if (command == "ADD" || command == "CHECK") *needs = {true, true, true, false};
  else if (command == "DEL") *needs = {true, false, true, false};
  else if (command == "GC") *needs = {false, false, false, true};
  else if (command == "STATUS" || command == "VERSION") *needs = {false, false, false, false};
  else return false;
  return true;
}

}  // namespace

Environment ReadEnvironment(const std::function<const char*(const char*)>& getenv) {
  auto read = [&](const char* name) {
    const char* value = getenv(name);
    return value ? std::string(value) : std::string();
  };
  return {read("CNI_COMMAND"), read("CNI_CONTAINERID"), read("CNI_NETNS"),
          read("CNI_IFNAME"),  read("CNI_ARGS"),        read("CNI_PATH")};
}

bool ValidContainerId(const std::string& id) {
  if (id.empty() || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool ValidInterfaceName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0') return false;
  }
  return true;
}

absl::Status ValidateEnvironment(const Environment& env) {
  Needs needs;
  if (env.command.empty()) {
    return CniError(kInvalidEnvironment, "required env variables [CNI_COMMAND] missing");
  }
  if (!NeedsOf(env.command, &needs)) {
    return CniError(kInvalidEnvironment,
                    absl::StrCat("CNI_COMMAND: unknown command \"", env.command, "\""),
                    "expected ADD, DEL, CHECK, STATUS, GC or VERSION");
  }
  std::vector<std::string> missing;
  if (needs.container_id && env.container_id.empty()) missing.push_back("CNI_CONTAINERID");
  if (needs.netns && env.netns.empty()) missing.push_back("CNI_NETNS");
  if (needs.ifname && env.ifname.empty()) missing.push_back("CNI_IFNAME");
  if (needs.path && env.path.empty()) missing.push_back("CNI_PATH");
  if (!missing.empty()) {
    return CniError(kInvalidEnvironment,
                    absl::StrCat("required env variables [", absl::StrJoin(missing, ","), "] missing"));
  }
  // The attachment's variables are checked only where they matter: VERSION, STATUS and
  // GC ignore them (libcni validates a conflist with VERSION and CNI_NETNS=dummy).
  const bool attachment = env.command == "ADD" || env.command == "DEL" || env.command == "CHECK";
  if (!attachment) return absl::OkStatus();
  if (!env.container_id.empty() && !ValidContainerId(env.container_id)) {
    return CniError(kInvalidEnvironment, "CNI_CONTAINERID: invalid characters in the container ID",
                    "must start with a letter or digit, followed by letters, digits, '_', '.' or '-'");
  }
  if (!env.ifname.empty() && !ValidInterfaceName(env.ifname)) {
    return CniError(kInvalidEnvironment, absl::StrCat("CNI_IFNAME: \"", env.ifname, "\" is not a valid interface name"),
                    "1 to 15 bytes, no '/', ':' or whitespace, not \".\" or \"..\"");
  }
  if (!env.netns.empty() && env.netns[0] != '/') {
    return CniError(kInvalidEnvironment, absl::StrCat("CNI_NETNS: \"", env.netns, "\" is not an absolute path"));
  }
  if (absl::StatusOr<std::map<std::string, std::string>> args = ParseCniArgs(env.args); !args.ok()) {
    return args.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ParseCniArgs(const std::string& args) {
  std::map<std::string, std::string> pairs;
  for (absl::string_view pair : absl::StrSplit(args, ';', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return CniError(kInvalidEnvironment, absl::StrCat("CNI_ARGS: \"", pair, "\" is not KEY=VALUE"));
    }
    pairs[kv[0]] = kv[1];
  }
  return pairs;
}

std::vector<std::string> SplitCniPath(const std::string& path) {
  return absl::StrSplit(path, ':', absl::SkipEmpty());
}

}  // namespace vhostd_cni
