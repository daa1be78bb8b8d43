// Runs a program with an environment, stdin and a deadline, optionally inside a network
// namespace: delegated CNI plugins (IPAM) and `ip` in a container's netns.
#ifndef VHOSTD_CLIENT_CNI_CNI_EXEC_H_
#define VHOSTD_CLIENT_CNI_CNI_EXEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vhostd_cni {

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0]: the program's path
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string stdin_data;
  std::string netns;              // a netns path to enter first; "" for the current one
  int timeout_ms = 10000;
  bool capture_stderr = false;    // else the child's stderr is ours
};

struct ExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// kTryAgainLater when the program outlives the deadline (it is killed); kIoFailure when
// it cannot be started (its netns cannot be opened: kUnknownContainer).
absl::StatusOr<ExecResult> Exec(const ExecRequest& request);

// This process's environment with `overrides` ("KEY=VALUE" replaces KEY; "KEY=" with
// an empty value removes KEY).
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& overrides);

// The first executable `name` in `dirs`, or kIoFailure naming the directories.
absl::StatusOr<std::string> FindProgram(const std::string& name, const std::vector<std::string>& dirs);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_EXEC_H_
