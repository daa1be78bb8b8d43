// The API over TCP: mutual TLS (the client's certificate is required and verified
// against --tls-client-ca), or plaintext only when asked for explicitly and only on a
// loopback address. Every bad combination of flags is an error naming the flag, found
// before the daemon starts anything.
#ifndef VHOSTD_SERVER_TLS_CREDENTIALS_H_
#define VHOSTD_SERVER_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace vhostd {

struct TcpListenOptions {
  std::string address;             // --grpc-listen HOST:PORT; empty: no TCP listener
  std::string tls_cert;            // --tls-cert: PEM certificate chain of the server
  std::string tls_key;             // --tls-key: PEM private key of that certificate
  std::string tls_client_ca;       // --tls-client-ca: PEM CAs that clients' certificates must chain to
  bool insecure_loopback = false;  // --insecure-listen-loopback: plaintext, loopback only
};

// Credentials for `options.address` (null when no address is given), after checking
// the combination, the address and that the PEM files load and the key fits the
// certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpListenCredentials(const TcpListenOptions& options);

// Whether `address` ("127.0.0.1:9", "[::1]:9") is HOST:PORT with HOST a literal
// loopback address (127.0.0.0/8 or ::1). Names such as "localhost" are not: what they
// resolve to is not the daemon's to decide.
bool IsLoopbackAddress(const std::string& address);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_TLS_CREDENTIALS_H_
