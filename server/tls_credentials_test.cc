#include "server/tls_credentials.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const TcpListenOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = TcpListenCredentials(options);
  return creds.ok() ? "ok" : std::string(creds.status().message());
}

TEST(TcpListenTest, NoAddressNoListener) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = TcpListenCredentials({});
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(*creds, nullptr);
}

TEST(TcpListenTest, TlsFlagsNeedAnAddress) {
  EXPECT_EQ(ErrorOf({"", "c.pem", "", "", false}), "--tls-cert: needs --grpc-listen");
  EXPECT_EQ(ErrorOf({"", "", "k.pem", "", false}), "--tls-key: needs --grpc-listen");
  EXPECT_EQ(ErrorOf({"", "", "", "ca.pem", false}), "--tls-client-ca: needs --grpc-listen");
  EXPECT_EQ(ErrorOf({"", "", "", "", true}), "--insecure-listen-loopback: needs --grpc-listen");
}

TEST(TcpListenTest, TcpWithoutTlsNamesWhatIsMissing) {
  EXPECT_THAT(ErrorOf({"0.0.0.0:50051", "", "", "", false}),
              HasSubstr("--grpc-listen: needs --tls-cert, --tls-key, --tls-client-ca (TCP is served with mutual TLS"));
  EXPECT_THAT(ErrorOf({"0.0.0.0:50051", "c.pem", "k.pem", "", false}), HasSubstr("needs --tls-client-ca ("));
}

TEST(TcpListenTest, UnreadableFilesNameTheirFlag) {
  EXPECT_EQ(ErrorOf({"0.0.0.0:50051", "/nonexistent/c.pem", "/nonexistent/k.pem", "/nonexistent/ca.pem", false}),
            "--tls-cert: cannot read /nonexistent/c.pem");
}

TEST(TcpListenTest, PlaintextOnlyOnLoopback) {
  EXPECT_EQ(ErrorOf({"127.0.0.1:50051", "", "", "", true}), "ok");
  EXPECT_EQ(ErrorOf({"127.3.4.5:50051", "", "", "", true}), "ok");
  EXPECT_EQ(ErrorOf({"[::1]:50051", "", "", "", true}), "ok");
  EXPECT_THAT(ErrorOf({"0.0.0.0:50051", "", "", "", true}),
              HasSubstr("--insecure-listen-loopback: --grpc-listen=0.0.0.0:50051 is not a loopback address"));
  EXPECT_THAT(ErrorOf({"[::]:50051", "", "", "", true}), HasSubstr("is not a loopback address"));
  EXPECT_THAT(ErrorOf({"10.0.0.1:50051", "", "", "", true}), HasSubstr("is not a loopback address"));
  EXPECT_THAT(ErrorOf({"localhost:50051", "", "", "", true}), HasSubstr("is not a loopback address"));
  EXPECT_THAT(ErrorOf({"127.0.0.1:50051", "c.pem", "", "", true}),
              HasSubstr("--insecure-listen-loopback: cannot be combined with --tls-cert"));
}

TEST(TcpListenTest, AddressMustBeHostAndPort) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", ":50051", "127.0.0.1:x"}) {
    EXPECT_THAT(ErrorOf({bad, "", "", "", true}), HasSubstr("is not HOST:PORT")) << bad;
  }
}

TEST(TcpListenTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:1"));
  EXPECT_FALSE(IsLoopbackAddress("[::ffff:127.0.0.1]:1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1"));
}

}  // namespace
}  // namespace vhostd
