// vhostctl: the command-line client of the vhostd daemon's gRPC API.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/commands.h"
#include "client/daemon_channel.h"
#include "client/live_view.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const vhostctl::ParseResult parsed = vhostctl::ParseArgs(args);
  if (!parsed.ok()) {
    std::cerr << vhostctl::FormatUsageError(*parsed.error);
    return 2;
  }
  const vhostctl::Command& command = parsed.command;
  if (command.kind == vhostctl::CommandKind::kHelp) {
    std::cout << vhostctl::UsageText();
    return 0;
  }

  const std::string target =
      vhostctl::ServerTarget(command, std::getenv(vhostctl::kServerEnvVar));
  const absl::StatusOr<vhostctl::DaemonAddress> address =
      vhostctl::ResolveDaemonAddress(target, command.tls);
  if (!address.ok()) {
    std::cerr << "vhostctl: " << address.status().message() << "\n";
    return 2;
  }
  int status = 0;
  if (vhostctl::IsLiveView(command)) {
    // Before the channel, so that gRPC's threads inherit the blocked SIGINT/SIGTERM.
    vhostctl::StopToken stop;
    vhostctl::SignalStopper stopper(stop);
    const std::shared_ptr<grpc::Channel> channel = vhostctl::DialDaemon(*address);
    const char* term = std::getenv("TERM");
    const bool tty =
        isatty(STDOUT_FILENO) == 1 && !(term != nullptr && std::string(term) == "dumb");
    status = vhostctl::RunLiveView(command, target, channel, tty, stop,
                                   std::cout, std::cerr);
  } else {
    const std::shared_ptr<grpc::Channel> channel = vhostctl::DialDaemon(*address);
    status = vhostctl::RunCommand(command, target, channel, std::cout, std::cerr);
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "vhostctl: cannot write the output\n";
    return 1;
  }
  return status;
}
