// Runs a parsed vhostctl command against the daemon: builds the request, calls the
// RPC (following page tokens for the lists) and prints the answer.
#ifndef VHOSTD_CLIENT_COMMANDS_H_
#define VHOSTD_CLIENT_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "client/cli_args.h"
#include "client/spec_flags.h"
#include "client/type_catalog.h"
#include "grpcpp/channel.h"
#include "vhostd/v1/vhostd.pb.h"

namespace vhostctl {

// Runs `command` (not kHelp) over `channel`, printing results to `out` and errors, as
// "error: CODE_NAME: message", to `err`. `target` is the address `channel` dials, used
// in messages. Every RPC of the command shares one deadline, command.timeout from now.
// Returns the exit status: 0 on success, 1 on an error, 2 on a usage error found once
// the daemon's answers were in (an unknown --type, a flag that type does not have).
//
// "port create" first asks ListPlugins for the type's spec message, then parses
// command.port.args again with that message's flags (client/spec_flags.h). Commands that
// print ports decode their plugin messages with the descriptors ListPlugins returns.
//
// A live view (IsLiveView) runs through RunLiveView (client/live_view.h) on the system
// clock, as plain blocks, without a way to stop it: give it a --count. vhostctl's main
// calls RunLiveView itself, with the terminal and SIGINT handling.
int RunCommand(const Command& command, const std::string& target,
               const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
               std::ostream& err);

// The requests of the create commands, exposed for tests. `command`: "port create" as
// ParseArgs(args, &flags.flags()) returned it; `flags`: those of the type's spec message
// (from `catalog`). INVALID_ARGUMENT naming the flag (or --spec) for a bad value.
absl::StatusOr<vhostd::v1::CreatePortRequest> MakeCreatePortRequest(const Command& command,
                                                                    const SpecFlags& flags,
                                                                    TypeCatalog& catalog);
vhostd::v1::CreateCrossConnectRequest MakeCreateCrossConnectRequest(const Command& command);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_COMMANDS_H_
