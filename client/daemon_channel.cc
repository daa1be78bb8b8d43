#include "client/daemon_channel.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace vhostctl {
namespace {

// The PEM file named by `flag`'s value, or "" when the flag is not given.
absl::StatusOr<std::string> ReadPemFlag(const std::optional<std::string>& path, const std::string& flag) {
  if (!path) return std::string();
  std::ifstream in(*path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", *path));
  return text.str();
}

}  // namespace

absl::StatusOr<DaemonAddress> ResolveDaemonAddress(const std::string& target, const TlsFlags& tls) {
  DaemonAddress address{target, tls.any(), "", "", "", tls.server_name};
  if (!address.tls) return address;
  if (absl::StartsWith(target, "unix:")) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-*: TLS is for --server HOST:PORT, not ", target));
  }
  absl::StatusOr<std::string> ca = ReadPemFlag(tls.ca, "--tls-ca");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = ReadPemFlag(tls.cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFlag(tls.key, "--tls-key");
  if (!key.ok()) return key.status();
  address.ca = *ca;
  address.cert = *cert;
  address.key = *key;
  return address;
}

std::shared_ptr<grpc::Channel> DialDaemon(const DaemonAddress& address) {
  if (!address.tls) return grpc::CreateChannel(address.target, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = address.ca;
  ssl.pem_cert_chain = address.cert;
  ssl.pem_private_key = address.key;
  grpc::ChannelArguments args;
  if (address.server_name) args.SetSslTargetNameOverride(*address.server_name);
  return grpc::CreateCustomChannel(address.target, grpc::SslCredentials(ssl), args);
}

}  // namespace vhostctl
