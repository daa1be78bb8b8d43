#include "plugins/vhost_user/socket_access.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vhostd {
namespace {

constexpr size_t kMaxName = 64;

std::string Quoted(const std::string& text) {
  return absl::StrCat("\"", text.size() > kMaxName ? text.substr(0, kMaxName) + "..." : text, "\"");
}

// A decimal id below (uid_t)-1, which means "no id" to the kernel.
bool ParseId(const std::string& text, uint32_t* id) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos && absl::SimpleAtoi(text, id) &&
         *id != static_cast<uint32_t>(-1);
}

}  // namespace

absl::StatusOr<mode_t> ParseSocketMode(const std::string& text, const std::string& field) {
  const bool octal = text.size() >= 3 && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
  const unsigned long mode = octal ? std::strtoul(text.c_str(), nullptr, 8) : 0;
  if (!octal || mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", Quoted(text), " is not an octal permission mode 000..0777 (e.g. 0660)"));
  }
  return static_cast<mode_t>(mode);
}

std::string FormatSocketMode(mode_t mode) { return absl::StrFormat("%04o", mode); }

absl::StatusOr<uid_t> ResolveSocketOwner(const std::string& text, const std::string& field) {
  uint32_t id = 0;
  if (ParseId(text, &id)) return static_cast<uid_t>(id);
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (text.size() > kMaxName || getpwnam_r(text.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", Quoted(text), " is no user name or uid on this host"));
  }
  return found->pw_uid;
}

absl::StatusOr<gid_t> ResolveSocketGroup(const std::string& text, const std::string& field) {
  uint32_t id = 0;
  if (ParseId(text, &id)) return static_cast<gid_t>(id);
  group entry{};
  group* found = nullptr;
  std::vector<char> buf(65536);
  if (text.size() > kMaxName || getgrnam_r(text.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", Quoted(text), " is no group name or gid on this host"));
  }
  return found->gr_gid;
}

absl::Status NormalizeSocketAccess(bool server, std::string* mode, const std::string& owner,
                                   const std::string& group) {
  if (!server) {
    const char* field = !mode->empty() ? "socket_mode" : !owner.empty() ? "socket_owner" : "socket_group";
    if (!mode->empty() || !owner.empty() || !group.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": only for mode server (in client mode the frontend creates the socket)"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<SocketAccess> access = SocketAccessFor(*mode, owner, group, SocketAccess{});
  if (!access.ok()) return access.status();
  if (!mode->empty()) *mode = FormatSocketMode(access->mode);
  return absl::OkStatus();
}

absl::StatusOr<SocketAccess> SocketAccessFor(const std::string& mode, const std::string& owner,
                                             const std::string& group, const SocketAccess& defaults) {
  SocketAccess access = defaults;
  if (!mode.empty()) {
    absl::StatusOr<mode_t> parsed = ParseSocketMode(mode, "socket_mode");
    if (!parsed.ok()) return parsed.status();
    access.mode = *parsed;
  }
  if (!owner.empty()) {
    absl::StatusOr<uid_t> uid = ResolveSocketOwner(owner, "socket_owner");
    if (!uid.ok()) return uid.status();
    access.owner = *uid;
  }
  if (!group.empty()) {
    absl::StatusOr<gid_t> gid = ResolveSocketGroup(group, "socket_group");
    if (!gid.ok()) return gid.status();
    access.group = *gid;
  }
  return access;
}

absl::Status CreateWithAccess(const std::string& path, const SocketAccess& access,
                                      const std::function<bool()>& create) {
  bool created = false;
  int unshare_errno = 0;
  // Threads lib/vhost starts from here (its event thread, on the first socket) share
  // this thread's file-system context: the umask is put back before the thread ends.
  std::thread creator([&] {
    if (unshare(CLONE_FS) != 0) {
      unshare_errno = errno;
      return;
    }
    const mode_t previous = umask(0777);
    created = create();
    umask(previous);
  });
  creator.join();
  if (unshare_errno != 0) {
    return absl::InternalError(absl::StrCat("socket_path: unshare(CLONE_FS): ", strerror(unshare_errno)));
  }
  if (!created) return absl::OkStatus();
  if ((access.owner || access.group) &&
      chown(path.c_str(), access.owner.value_or(static_cast<uid_t>(-1)), access.group.value_or(static_cast<gid_t>(-1))) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(access.owner ? "socket_owner" : "socket_group", ": cannot give ",
                                                      path, " to ", access.owner ? "user " : "group ",
                                                      access.owner ? *access.owner : *access.group, ": ",
                                                      strerror(errno)));
  }
  if (chmod(path.c_str(), access.mode) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket_mode: cannot chmod ", path, " to ", FormatSocketMode(access.mode), ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace vhostd
