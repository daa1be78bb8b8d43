// Who may connect to a vhost-user socket vhostd creates (server mode): its permission
// bits, owner and group, from the spec's socket_mode/socket_owner/socket_group or else
// the daemon's --socket-mode/--socket-owner/--socket-group, never from the umask.
//
// lib/vhost binds and listens in one call, so the file cannot be fixed up between the
// two. Instead it is created under umask 0777 (mode 0000: only a process that bypasses
// file permissions can connect), and then given its owner and group and, last, its
// mode. At no moment is it more open than asked. The umask is per process, shared by
// all threads, so the bind runs on a short-lived thread with a file-system context of
// its own (unshare(CLONE_FS)): other threads keep creating files with theirs.
#ifndef VHOSTD_PLUGINS_VHOST_USER_SOCKET_ACCESS_H_
#define VHOSTD_PLUGINS_VHOST_USER_SOCKET_ACCESS_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace vhostd {

struct SocketAccess {
  mode_t mode = 0660;
  std::optional<uid_t> owner;  // unset: the daemon's user
  std::optional<gid_t> group;  // unset: the daemon's group
};

// "0660", "660", "0600": permission bits in octal, at most 0777. Errors start with `field`.
absl::StatusOr<mode_t> ParseSocketMode(const std::string& text, const std::string& field);
// The mode as the spec stores it: four octal digits ("0660").
std::string FormatSocketMode(mode_t mode);
// A user or group given by name or number; errors start with `field`.
absl::StatusOr<uid_t> ResolveSocketOwner(const std::string& text, const std::string& field);
absl::StatusOr<gid_t> ResolveSocketGroup(const std::string& text, const std::string& field);

// Checks a spec's socket_mode, socket_owner and socket_group (`server`: the port
// creates its socket; otherwise they must be empty) and writes `mode` in canonical form.
absl::Status NormalizeSocketAccess(bool server, std::string* mode, const std::string& owner,
                                   const std::string& group);

// The access of a socket whose spec says `mode`, `owner`, `group` (empty: take
// `defaults`' value). Errors name the spec's fields.
absl::StatusOr<SocketAccess> SocketAccessFor(const std::string& mode, const std::string& owner,
                                             const std::string& group, const SocketAccess& defaults);

// Runs `create` (which must create `path`, e.g. lib/vhost's bind and listen) with umask
// 0777, then, if it returned true, applies `access` to `path`. A failure to apply
// `access` is an error naming the field; the caller removes the socket then.
absl::Status CreateWithAccess(const std::string& path, const SocketAccess& access,
                                      const std::function<bool()>& create);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_SOCKET_ACCESS_H_
