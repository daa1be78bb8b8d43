#include "server/unix_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/server_posix.h"
#include "server/log.h"

namespace vhostd {
namespace {

constexpr mode_t kSocketMode = 0660;
constexpr int kBacklog = 128;
constexpr absl::Duration kLogInterval = absl::Seconds(10);

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(absl::StrCat("--grpc-socket: ", what, ": ", strerror(errno)));
}

// A bound, not yet listening socket: nobody can connect before listen(), so its file's
// owner and mode are set here first.
absl::StatusOr<int> BindRestricted(const std::string& path, std::optional<gid_t> group) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("socket()");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  absl::Status failed;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    failed = Errno(absl::StrCat("bind ", path));
  } else if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    failed = absl::FailedPreconditionError(
        absl::StrCat("--grpc-socket-group: cannot give ", path, " to group ", *group, ": ", strerror(errno)));
  } else if (chmod(path.c_str(), kSocketMode) != 0) {
    failed = Errno(absl::StrCat("chmod ", path));
  } else if (listen(fd, kBacklog) != 0) {
    failed = Errno(absl::StrCat("listen on ", path));
  }
  if (failed.ok()) return fd;
  close(fd);
  return failed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixApiListener>> UnixApiListener::Listen(Options options) {
  absl::StatusOr<FileLock> lock =
      FileLock::Acquire(options.path + ".lock", "--grpc-socket", absl::StrCat("the API socket ", options.path));
  if (!lock.ok()) return lock.status();
  if (absl::Status s = ClaimSocketPath(options.path, "--grpc-socket"); !s.ok()) return s;
  absl::StatusOr<int> fd = BindRestricted(options.path, options.group);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<SocketFile> file = StatSocketFile(options.path);
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (!file.ok() || stop_fd < 0) {
    close(*fd);
    unlink(options.path.c_str());
    if (stop_fd >= 0) close(stop_fd);
    return file.ok() ? Errno("eventfd()") : file.status();
  }
  return std::unique_ptr<UnixApiListener>(new UnixApiListener(std::move(options), std::move(*lock), *fd, *file, stop_fd));
}

UnixApiListener::UnixApiListener(Options options, FileLock lock, int listen_fd, SocketFile file, int stop_fd)
    : options_(std::move(options)), lock_(std::move(lock)), listen_fd_(listen_fd), file_(file), stop_fd_(stop_fd) {}

UnixApiListener::~UnixApiListener() {
  Stop();
  close(listen_fd_);
  close(stop_fd_);
  if (!RemoveSocketIfOwned(options_.path, file_)) {
    VHOSTD_LOG_INFO("left ", options_.path, " in place: it is no longer the socket this daemon created");
  }
}

void UnixApiListener::Serve(grpc::Server* server, prometheus::Registry* registry) {
  if (registry != nullptr) {
    refused_counter_ = &prometheus::BuildCounter()
                            .Name("vhostd_api_refused_connections_total")
                            .Help("Connections to the API's Unix socket closed because of the peer's credentials.")
                            .Register(*registry)
                            .Add({});
  }
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixApiListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof(one)) != sizeof(one)) VHOSTD_LOG_ERROR("cannot wake the API accept loop");
  thread_.join();
}

void UnixApiListener::AcceptLoop(grpc::Server* server) {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      VHOSTD_LOG_ERROR("API socket: poll: ", strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(fd, server);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      LogRefusal(absl::StrCat("cannot accept: ", strerror(errno)));
      poll(&fds[1], 1, 100);  // the waiting peer stays queued; don't spin meanwhile
    }
  }
}

void UnixApiListener::Admit(int fd, grpc::Server* server) {
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(fd);
  if (peer.ok() && options_.policy.Allows(*peer)) {
    grpc::AddInsecureChannelFromFd(server, fd);  // gRPC owns fd from here
    return;
  }
  close(fd);
  refused_total_.fetch_add(1);
  if (refused_counter_ != nullptr) refused_counter_->Increment();
  LogRefusal(peer.ok() ? absl::StrCat("refused API connection from pid ", peer->pid, " uid ", peer->uid, " gid ",
                                      peer->gid, ": allowed are ", options_.policy.Describe(),
                                      " (--grpc-allowed-uids, --grpc-allowed-gids)")
                       : absl::StrCat("refused API connection: ", peer.status().message()));
}

void UnixApiListener::LogRefusal(const std::string& reason) {
  const absl::Time now = absl::Now();
  if (now - last_log_ < kLogInterval) {
    ++unlogged_;
    return;
  }
  const std::string more = unlogged_ ? absl::StrCat(" (and ", unlogged_, " more since the last message)") : "";
  VHOSTD_LOG_ERROR(reason, more);
  last_log_ = now;
  unlogged_ = 0;
}

}  // namespace vhostd
