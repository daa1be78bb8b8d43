#include "server/api_access.h"

#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "server/tls_credentials.h"

ABSL_FLAG(std::string, grpc_socket_group, "",
          "Group (name or gid) of the gRPC socket; its members may use the API. Default: the daemon's group.");
ABSL_FLAG(std::string, grpc_allowed_uids, "",
          "Users (names or uids, comma-separated) allowed on the gRPC socket besides root and the daemon's user.");
ABSL_FLAG(std::string, grpc_allowed_gids, "",
          "Groups (names or gids, comma-separated) whose members may use the gRPC socket (--grpc-socket-group is one).");
ABSL_FLAG(std::string, grpc_listen, "", "HOST:PORT serving the API over TCP with mutual TLS; empty: no TCP.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the TCP API (--grpc-listen).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "", "PEM CA certificates that clients' certificates must chain to.");
ABSL_FLAG(bool, insecure_listen_loopback, false,
          "Serve --grpc-listen in plaintext, without TLS; only a loopback address (127.0.0.0/8, [::1]) is accepted.");

namespace vhostd {
namespace {

absl::StatusOr<UnixApiListener::Options> UnixOptionsFromFlags(const std::string& grpc_socket) {
  UnixApiListener::Options options{grpc_socket, std::nullopt, PeerPolicy(getuid(), {}, {})};
  absl::StatusOr<std::set<uid_t>> uids = ParseUserList(absl::GetFlag(FLAGS_grpc_allowed_uids), "--grpc-allowed-uids");
  if (!uids.ok()) return uids.status();
  absl::StatusOr<std::set<gid_t>> gids = ParseGroupList(absl::GetFlag(FLAGS_grpc_allowed_gids), "--grpc-allowed-gids");
  if (!gids.ok()) return gids.status();
  if (const std::string group = absl::GetFlag(FLAGS_grpc_socket_group); !group.empty()) {
    absl::StatusOr<gid_t> gid = ParseGroup(group, "--grpc-socket-group");
    if (!gid.ok()) return gid.status();
    options.group = *gid;
    gids->insert(*gid);  // the group the socket is given to is meant to use it
  }
  options.policy = PeerPolicy(getuid(), std::move(*uids), std::move(*gids));
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiAccess>> ApiAccess::Open(const std::string& grpc_socket) {
  auto access = std::make_unique<ApiAccess>();
  const TcpListenOptions tcp{absl::GetFlag(FLAGS_grpc_listen), absl::GetFlag(FLAGS_tls_cert),
                             absl::GetFlag(FLAGS_tls_key), absl::GetFlag(FLAGS_tls_client_ca),
                             absl::GetFlag(FLAGS_insecure_listen_loopback)};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = TcpListenCredentials(tcp);
  if (!credentials.ok()) return credentials.status();
  access->tcp_address_ = tcp.address;
  access->tcp_credentials_ = *credentials;
  access->tcp_tls_ = !tcp.insecure_loopback;
  absl::StatusOr<UnixApiListener::Options> options = UnixOptionsFromFlags(grpc_socket);
  if (!options.ok()) return options.status();
  access->unix_description_ = absl::StrCat("unix:", grpc_socket, " (mode 0660, allowed ", options->policy.Describe(), ")");
  absl::StatusOr<std::unique_ptr<UnixApiListener>> listener = UnixApiListener::Listen(std::move(*options));
  if (!listener.ok()) return listener.status();
  access->unix_ = std::move(*listener);
  return access;
}

void ApiAccess::AddListeningPorts(grpc::ServerBuilder* builder) const {
  if (tcp_credentials_) builder->AddListeningPort(tcp_address_, tcp_credentials_);
}

void ApiAccess::Serve(grpc::Server* server, prometheus::Registry* registry) { unix_->Serve(server, registry); }

void ApiAccess::StopAccepting() { unix_->Stop(); }

std::string ApiAccess::Describe() const {
  if (!tcp_credentials_) return unix_description_;
  return absl::StrCat(unix_description_, " and TCP ", tcp_address_,
                      tcp_tls_ ? " (mutual TLS)" : " (plaintext, loopback only)");
}

}  // namespace vhostd
