#include "server/tls_credentials.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vhostd {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

struct HostPort {
  std::string host;  // without brackets
  uint32_t port = 0;
};

// "HOST:PORT" or "[IPV6]:PORT", port 1..65535.
absl::StatusOr<HostPort> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  HostPort hp;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &hp.port) ||
      hp.port == 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-listen: \"", address.substr(0, 128), "\" is not HOST:PORT (port 1..65535)"));
  }
  hp.host = address.substr(0, colon);
  if (hp.host.front() == '[' && hp.host.back() == ']') hp.host = hp.host.substr(1, hp.host.size() - 2);
  return hp;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxPemBytes) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is too big"));
  return text.str();
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

Bio MemoryBio(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free); }

// The certificates in `pem`, in order (none if it holds none or is malformed).
std::vector<std::unique_ptr<X509, decltype(&X509_free)>> Certificates(const std::string& pem) {
  std::vector<std::unique_ptr<X509, decltype(&X509_free)>> certs;
  Bio bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert, &X509_free);
  ERR_clear_error();
  return certs;
}

absl::Status CheckKeyPair(const std::string& cert_pem, const std::string& key_pem, const TcpListenOptions& options) {
  auto certs = Certificates(cert_pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", options.tls_cert, " holds no PEM certificate"));
  }
  Bio bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          &EVP_PKEY_free);
  ERR_clear_error();
  if (!key) return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", options.tls_key, " holds no PEM private key"));
  if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", options.tls_key,
                                                   " is not the key of the certificate in --tls-cert"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTls(const TcpListenOptions& options) {
  std::vector<std::string> missing;
  if (options.tls_cert.empty()) missing.push_back("--tls-cert");
  if (options.tls_key.empty()) missing.push_back("--tls-key");
  if (options.tls_client_ca.empty()) missing.push_back("--tls-client-ca");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc-listen: needs ", absl::StrJoin(missing, ", "),
        " (TCP is served with mutual TLS only; plaintext on a loopback address needs --insecure-listen-loopback)"));
  }
  absl::StatusOr<std::string> cert = ReadPem(options.tls_cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(options.tls_key, "--tls-key");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca = ReadPem(options.tls_client_ca, "--tls-client-ca");
  if (!ca.ok()) return ca.status();
  if (absl::Status s = CheckKeyPair(*cert, *key, options); !s.ok()) return s;
  if (Certificates(*ca).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-client-ca: ", options.tls_client_ca, " holds no PEM certificate"));
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  absl::StatusOr<HostPort> hp = SplitHostPort(address);
  if (!hp.ok()) return false;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, hp->host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, hp->host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpListenCredentials(const TcpListenOptions& options) {
  const bool any_tls = !options.tls_cert.empty() || !options.tls_key.empty() || !options.tls_client_ca.empty();
  if (options.address.empty()) {
    if (options.insecure_loopback) return absl::InvalidArgumentError("--insecure-listen-loopback: needs --grpc-listen");
    if (any_tls) {
      const char* flag = !options.tls_cert.empty() ? "--tls-cert" : !options.tls_key.empty() ? "--tls-key" : "--tls-client-ca";
      return absl::InvalidArgumentError(absl::StrCat(flag, ": needs --grpc-listen"));
    }
    return std::shared_ptr<grpc::ServerCredentials>();
  }
  if (absl::StatusOr<HostPort> hp = SplitHostPort(options.address); !hp.ok()) return hp.status();
  if (!options.insecure_loopback) return MutualTls(options);
  if (any_tls) {
    return absl::InvalidArgumentError(
        "--insecure-listen-loopback: cannot be combined with --tls-cert, --tls-key or --tls-client-ca");
  }
  if (!IsLoopbackAddress(options.address)) {
    return absl::InvalidArgumentError(absl::StrCat("--insecure-listen-loopback: --grpc-listen=", options.address.substr(0, 128),
                                                   " is not a loopback address (127.0.0.0/8 or [::1]); "
                                                   "other addresses are served with mutual TLS only"));
  }
  return grpc::InsecureServerCredentials();
}

}  // namespace vhostd
