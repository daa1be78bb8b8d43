// vhostd's gRPC API as vhostd-cni uses it: every call has the config's deadline, and a
// daemon that is not there fails fast (no wait-for-ready) instead of hanging.
#ifndef VHOSTD_CLIENT_CNI_CNI_DAEMON_H_
#define VHOSTD_CLIENT_CNI_CNI_DAEMON_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "vhostd/v1/vhostd.grpc.pb.h"

namespace vhostd_cni {

class Daemon {
 public:
  // `target`: a gRPC target, "unix:/run/vhostd/vhostd.sock".
  Daemon(const std::string& target, int timeout_ms);
  // For tests: an in-process channel.
  Daemon(std::shared_ptr<grpc::Channel> channel, int timeout_ms);

  // Errors are absl::Status with the gRPC code and message. vhostd-cni's commands turn
  // them into CNI errors with ToCniError.
  absl::StatusOr<vhostd::v1::ListPluginsResponse> ListPlugins();
  absl::StatusOr<vhostd::v1::Port> CreatePort(const vhostd::v1::Port& port);
  absl::StatusOr<vhostd::v1::Port> GetPort(const std::string& name);  // NOT_FOUND when absent
  absl::Status DeletePort(const std::string& name);                   // OK when absent
  // Every port (all pages) whose labels match `label_selector` ("k=v,k2!=v,k"; "" for all).
  absl::StatusOr<std::vector<vhostd::v1::Port>> ListPorts(const std::string& label_selector = "");
  absl::StatusOr<std::vector<vhostd::v1::CrossConnect>> ListCrossConnects();
  absl::StatusOr<vhostd::v1::CrossConnect> CreateCrossConnect(const vhostd::v1::CrossConnect& xconnect);
  absl::Status DeleteCrossConnect(const std::string& name);  // OK when absent
  absl::StatusOr<vhostd::v1::Bridge> GetBridge(const std::string& name);  // NOT_FOUND when absent
  absl::StatusOr<vhostd::v1::Bridge> CreateBridge(const vhostd::v1::Bridge& bridge);
  absl::StatusOr<std::vector<vhostd::v1::Bridge>> ListBridges();
  absl::Status AddBridgePort(const std::string& bridge, const vhostd::v1::BridgePort& port);
  absl::Status DeleteBridgePort(const std::string& bridge, const std::string& port);

  const std::string& target() const { return target_; }

 private:
  void Prepare(grpc::ClientContext* context) const;

  std::string target_;
  int timeout_ms_;
  std::unique_ptr<vhostd::v1::Vhostd::Stub> stub_;
};

// A gRPC failure as a CNI error: the daemon unreachable or too slow (UNAVAILABLE,
// DEADLINE_EXCEEDED) -> kTryAgainLater; the daemon refusing the config's values
// (INVALID_ARGUMENT, UNIMPLEMENTED: no such port type) -> kInvalidConfig; out of a
// resource -> kResourceExhausted; anything else -> kDaemonRefused. `what` says which
// call ("vhostd CreatePort").
absl::Status ToCniError(const absl::Status& status, const std::string& what);
// Whether `status` means the daemon could not be reached (or answer in time).
bool Unreachable(const absl::Status& status);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_DAEMON_H_
