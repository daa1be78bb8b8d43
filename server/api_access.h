// Where and for whom the gRPC API is served: its Unix socket (mode 0660, a group,
// peer credentials checked) and optionally TCP with mutual TLS (or plaintext on
// loopback when asked). Holds the flags for it (--grpc-socket-group,
// --grpc-allowed-uids, --grpc-allowed-gids, --grpc-listen, --tls-cert, --tls-key,
// --tls-client-ca, --insecure-listen-loopback) so that main only wires it in.
#ifndef VHOSTD_SERVER_API_ACCESS_H_
#define VHOSTD_SERVER_API_ACCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/registry.h"
#include "server/unix_listener.h"

namespace vhostd {

class ApiAccess {
 public:
  // Checks every API flag and binds the Unix socket `grpc_socket` (a live daemon's is
  // refused here, before anything else starts).
  static absl::StatusOr<std::unique_ptr<ApiAccess>> Open(const std::string& grpc_socket);

  // Adds the TCP listener, if any, to `builder`.
  void AddListeningPorts(grpc::ServerBuilder* builder) const;
  // Starts passing Unix socket connections to `server` (built and started).
  void Serve(grpc::Server* server, prometheus::Registry* registry);
  // Stops accepting on the Unix socket; before the server shuts down.
  void StopAccepting();
  // "unix:/run/vhostd/vhostd.sock (uids 0; gids 107) and TCP 0.0.0.0:50051 (mutual TLS)".
  std::string Describe() const;

 private:
  std::unique_ptr<UnixApiListener> unix_;
  std::string unix_description_;
  std::string tcp_address_;
  std::shared_ptr<grpc::ServerCredentials> tcp_credentials_;
  bool tcp_tls_ = false;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_API_ACCESS_H_
