#include "client/cni/cni_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cni/cni_error.h"

extern char** environ;

namespace vhostd_cni {
namespace {

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

void CloseAll(std::initializer_list<int*> fds) {
  for (int* fd : fds) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

// The child side: only async-signal-safe calls between fork and exec.
[[noreturn]] void RunChild(int in, int out, int err, int netns_fd, char** argv, char** envp) {
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  if (err >= 0) dup2(err, STDERR_FILENO);
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(126);
  execve(argv[0], argv, envp);
  _exit(127);
}

// Feeds stdin and drains stdout/stderr until the child closes them or the deadline.
bool Pump(int in, int out, int err, const std::string& input, int timeout_ms, ExecResult* result) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t written = 0;
  if (input.empty()) CloseAll({&in});
  char buffer[4096];
  while (out >= 0 || err >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
    if (poll(fds, 3, static_cast<int>(left)) < 0 && errno != EINTR) return false;
    if (in >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) CloseAll({&in});
    }
    for (auto [fd, sink, index] : {std::tuple{&out, &result->out, 1}, std::tuple{&err, &result->err, 2}}) {
      if (*fd >= 0 && (fds[index].revents & (POLLIN | POLLERR | POLLHUP))) {
        ssize_t n = read(*fd, buffer, sizeof(buffer));
        if (n > 0) sink->append(buffer, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) CloseAll({fd});
      }
    }
  }
  CloseAll({&in});
  return true;
}

}  // namespace

std::vector<std::string> EnvironmentWith(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  auto key_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const std::string& o : overrides) replaced = replaced || key_of(o) == key_of(entry);
    if (!replaced) env.push_back(entry);
  }
  for (const std::string& o : overrides) {
    if (o.size() > key_of(o).size() + 1) env.push_back(o);
  }
  return env;
}

absl::StatusOr<std::string> FindProgram(const std::string& name, const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) return path;
  }
  return CniError(kIoFailure, absl::StrCat("failed to find plugin \"", name, "\" in path [",
                                           absl::StrJoin(dirs, " "), "]"));
}

absl::StatusOr<ExecResult> Exec(const ExecRequest& request) {
  int netns_fd = -1;
  if (!request.netns.empty()) {
    netns_fd = open(request.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      return CniError(kUnknownContainer, absl::StrCat("CNI_NETNS: cannot open ", request.netns, ": ", strerror(errno)));
    }
  }
  absl::Cleanup close_netns = [netns_fd] {
    if (netns_fd >= 0) close(netns_fd);
  };
  int in[2], out[2], err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0) return CniError(kIoFailure, absl::StrCat("pipe: ", strerror(errno)));
  if (pipe2(out, O_CLOEXEC) != 0) {
    CloseAll({&in[0], &in[1]});
    return CniError(kIoFailure, absl::StrCat("pipe: ", strerror(errno)));
  }
  if (request.capture_stderr && pipe2(err, O_CLOEXEC) != 0) {
    CloseAll({&in[0], &in[1], &out[0], &out[1]});
    return CniError(kIoFailure, absl::StrCat("pipe: ", strerror(errno)));
  }
  std::vector<char*> argv = CStrings(request.argv), envp = CStrings(request.env);
  const pid_t pid = fork();
  if (pid == 0) RunChild(in[0], out[1], err[1], netns_fd, argv.data(), envp.data());
  CloseAll({&in[0], &out[1], &err[1]});
  if (pid < 0) {
    CloseAll({&in[1], &out[0], &err[0]});
    return CniError(kIoFailure, absl::StrCat("fork: ", strerror(errno)));
  }
  ExecResult result;
  const bool finished = Pump(in[1], out[0], err[0], request.stdin_data, request.timeout_ms, &result);
  CloseAll({&in[1], &out[0], &err[0]});
  if (!finished) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) {
    return CniError(kTryAgainLater, absl::StrCat(request.argv[0], " did not finish within ", request.timeout_ms, " ms"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126 && netns_fd >= 0) {
    return CniError(kUnknownContainer, absl::StrCat("CNI_NETNS: cannot enter ", request.netns));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return CniError(kIoFailure, absl::StrCat("cannot execute ", request.argv[0]));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace vhostd_cni
