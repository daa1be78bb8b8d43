// vhostd-cni: the CNI plugin of vhostd (CNI spec 1.1.0; 0.3.1, 0.4.0 and 1.0.0 too).
// A runtime runs it with CNI_COMMAND and the other CNI_* variables set and the network
// config on stdin; it asks vhostd over gRPC for a port per attachment.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "client/cni/cni_daemon.h"
#include "client/cni/cni_env.h"
#include "client/cni/cni_plugin.h"

int main() {
  signal(SIGPIPE, SIG_IGN);  // a delegated plugin that exits early must not end us
  const vhostd_cni::Environment env = vhostd_cni::ReadEnvironment(std::getenv);
  std::string stdin_data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const vhostd_cni::DaemonFactory daemons = [](const vhostd_cni::NetConf& net) {
    return std::make_unique<vhostd_cni::Daemon>(net.server, net.timeout_ms);
  };
  const int status = vhostd_cni::RunCni(env, stdin_data, daemons, std::cout, std::cerr);
  std::cout.flush();
  return status;
}
