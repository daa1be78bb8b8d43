// The gRPC API's Unix socket, accepted by vhostd itself so that every connection's
// peer credentials are checked before gRPC sees a byte: an allowed connection's fd is
// handed to the gRPC server (grpc::AddInsecureChannelFromFd), a refused one is closed,
// counted (vhostd_api_refused_connections_total) and logged at most every 10 s.
//
// The socket file is mode 0660 whatever the umask, optionally with a group: it is
// bound, then chown'ed and chmod'ed, and only then listen()s, so no client can connect
// while its mode is anything else. A lock file next to it (PATH.lock) and a connect()
// probe keep a second daemon off a path a live one serves; on exit only the file this
// listener bound is removed.
#ifndef VHOSTD_SERVER_UNIX_LISTENER_H_
#define VHOSTD_SERVER_UNIX_LISTENER_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "server/file_lock.h"
#include "server/peer_credentials.h"
#include "server/socket_owner.h"

namespace vhostd {

class UnixApiListener {
 public:
  struct Options {
    std::string path;            // --grpc-socket
    std::optional<gid_t> group;  // --grpc-socket-group
    PeerPolicy policy;
  };

  // Binds and listens (connections wait in the backlog until Serve).
  static absl::StatusOr<std::unique_ptr<UnixApiListener>> Listen(Options options);
  ~UnixApiListener();  // Stop(), then removes the socket file if it is still ours

  // Starts handing allowed connections to `server` (built and started); refusals are
  // counted in `registry` (may be null).
  void Serve(grpc::Server* server, prometheus::Registry* registry);
  // Stops accepting; call before shutting the server down. Idempotent.
  void Stop();

  uint64_t refused() const { return refused_total_.load(); }

 private:
  UnixApiListener(Options options, FileLock lock, int listen_fd, SocketFile file, int stop_fd);
  void AcceptLoop(grpc::Server* server);
  void Admit(int fd, grpc::Server* server);
  void LogRefusal(const std::string& reason);

  const Options options_;
  FileLock lock_;
  const int listen_fd_;
  const SocketFile file_;
  const int stop_fd_;  // eventfd: wakes the accept loop to stop
  prometheus::Counter* refused_counter_ = nullptr;
  std::thread thread_;
  std::atomic<uint64_t> refused_total_{0};
  // Rate limit of the refusal log (accept thread only).
  absl::Time last_log_ = absl::InfinitePast();
  uint64_t unlogged_ = 0;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_UNIX_LISTENER_H_
