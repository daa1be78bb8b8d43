// The channel vhostctl talks to the daemon on: plaintext on its Unix socket (or a
// loopback TCP port the daemon serves with --insecure-listen-loopback), TLS when any
// --tls-* flag is given (the daemon's --grpc-listen requires a client certificate).
#ifndef VHOSTD_CLIENT_DAEMON_CHANNEL_H_
#define VHOSTD_CLIENT_DAEMON_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/cli_args.h"
#include "grpcpp/channel.h"

namespace vhostctl {

// What a channel needs: the target and, for TLS, the PEM files' contents.
struct DaemonAddress {
  std::string target;
  bool tls = false;
  std::string ca, cert, key;  // PEM; an empty ca means gRPC's default roots
  std::optional<std::string> server_name;
};

// Reads the files `tls` names (no gRPC call: gRPC's threads start only when dialling).
// An unreadable file, or TLS asked for a unix: target, is INVALID_ARGUMENT naming the flag.
absl::StatusOr<DaemonAddress> ResolveDaemonAddress(const std::string& target, const TlsFlags& tls);

std::shared_ptr<grpc::Channel> DialDaemon(const DaemonAddress& address);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_DAEMON_CHANNEL_H_
