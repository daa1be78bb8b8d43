// vhostd-cni's commands: ADD, DEL, CHECK, STATUS, GC and VERSION, run as a runtime calls
// them (CNI_* environment, the network config on stdin, the result or error on stdout).
#ifndef VHOSTD_CLIENT_CNI_CNI_PLUGIN_H_
#define VHOSTD_CLIENT_CNI_CNI_PLUGIN_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "client/cni/cni_config.h"
#include "client/cni/cni_daemon.h"
#include "client/cni/cni_env.h"

namespace vhostd_cni {

// Makes the client of the daemon a config names (a real channel in the binary).
using DaemonFactory = std::function<std::unique_ptr<Daemon>(const NetConf& net)>;

// Runs one command; prints the result (ADD, VERSION) or the spec's error object on
// `out` and logs on `log`. Returns the process exit status (0 on success, 1 on error).
int RunCni(const Environment& env, const std::string& stdin_data, const DaemonFactory& daemons,
           std::ostream& out, std::ostream& log);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_PLUGIN_H_
