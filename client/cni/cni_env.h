// The CNI_* environment a runtime sets, validated per command as the spec requires.
#ifndef VHOSTD_CLIENT_CNI_CNI_ENV_H_
#define VHOSTD_CLIENT_CNI_CNI_ENV_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vhostd_cni {

struct Environment {
  std::string command;       // CNI_COMMAND
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS
  std::string ifname;        // CNI_IFNAME
  std::string args;          // CNI_ARGS
  std::string path;          // CNI_PATH
};

// Reads the variables through `getenv` (std::getenv in the binary).
Environment ReadEnvironment(const std::function<const char*(const char*)>& getenv);

// kInvalidEnvironment naming the variables that `env.command` needs and lacks, or whose
// values are malformed (a container ID must start alphanumeric, then [A-Za-z0-9_.-]; an
// interface name is 1..15 bytes without '/', ':' or whitespace and not "." or "..").
// An unknown CNI_COMMAND is kInvalidEnvironment too.
absl::Status ValidateEnvironment(const Environment& env);

// CNI_ARGS "K=V;K2=V2" as a map (kInvalidEnvironment for a pair without '=').
absl::StatusOr<std::map<std::string, std::string>> ParseCniArgs(const std::string& args);

// The directories of CNI_PATH.
std::vector<std::string> SplitCniPath(const std::string& path);

bool ValidContainerId(const std::string& id);
bool ValidInterfaceName(const std::string& name);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_ENV_H_
