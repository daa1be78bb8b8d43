// vhostd-health: asks a vhostd's gRPC health service (on its unix socket) whether it
// serves, for container probes: Kubernetes' own gRPC probe dials TCP only.
//
//   vhostd-health [--socket=/run/vhostd/vhostd.sock] [--timeout=5] [--live]
//
// Exit 0: SERVING (with --live: the daemon answered at all, SERVING or NOT_SERVING).
// Exit 1: NOT_SERVING (the data plane is being repaired; see README "Running the daemon").
// Exit 2: no answer (daemon down, socket missing, deadline passed) or a bad value.
// An unknown flag exits 1 (Abseil's parser).
#include <sys/un.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "deploy/probe/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, socket, "/run/vhostd/vhostd.sock", "vhostd's gRPC socket (its --grpc-socket).");
ABSL_FLAG(int, timeout, 5, "Seconds to wait for the answer (1..300).");
ABSL_FLAG(bool, live, false, "Liveness: succeed on any answer, NOT_SERVING included.");

namespace {

constexpr int kServing = 0;
constexpr int kNotServing = 1;
constexpr int kNoAnswer = 2;

// Returns an error message naming the flag, or "" when the flags are usable.
std::string CheckFlags(const std::string& socket, int timeout) {
  if (socket.empty() || socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "--socket: must be a path shorter than " + std::to_string(sizeof(sockaddr_un{}.sun_path)) + " bytes";
  }
  if (timeout < 1 || timeout > 300) return "--timeout: must be 1..300 seconds";
  return "";
}

int Probe(const std::string& socket, int timeout, bool live) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  std::unique_ptr<grpc::health::v1::Health::Stub> stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "vhostd-health: no answer from unix:" << socket << ": " << status.error_message() << "\n";
    return kNoAnswer;
  }
  const std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::cout << name << "\n";
  if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING || live) return kServing;
  return kNotServing;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("vhostd-health [--socket=PATH] [--timeout=SECONDS] [--live]");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << "vhostd-health: unexpected argument \"" << positional[1] << "\"\n";
    return kNoAnswer;
  }
  const std::string socket = absl::GetFlag(FLAGS_socket);
  const int timeout = absl::GetFlag(FLAGS_timeout);
  if (const std::string error = CheckFlags(socket, timeout); !error.empty()) {
    std::cerr << "vhostd-health: " << error << "\n";
    return kNoAnswer;
  }
  return Probe(socket, timeout, absl::GetFlag(FLAGS_live));
}
