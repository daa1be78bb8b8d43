#include "server/socket_defaults.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "server/peer_credentials.h"

ABSL_FLAG(std::string, socket_mode, "0660",
          "Permission bits (octal) of vhost-user sockets vhostd creates, whatever the umask; a port's spec may say otherwise.");
ABSL_FLAG(std::string, socket_owner, "", "Owner (name or uid) of vhost-user sockets vhostd creates; default: the daemon's user.");
ABSL_FLAG(std::string, socket_group, "", "Group (name or gid) of vhost-user sockets vhostd creates; default: the daemon's group.");

namespace vhostd {

absl::StatusOr<SocketDefaults> SocketDefaultsFromFlags() {
  SocketDefaults defaults;
  const std::string mode = absl::GetFlag(FLAGS_socket_mode);
  const bool octal = mode.size() >= 3 && mode.size() <= 4 && mode.find_first_not_of("01234567") == std::string::npos;
  defaults.mode = octal ? static_cast<uint32_t>(std::strtoul(mode.c_str(), nullptr, 8)) : 01000;
  if (defaults.mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("--socket-mode: \"", mode.substr(0, 16), "\" is not an octal permission mode 000..0777 (e.g. 0660)"));
  }
  if (const std::string owner = absl::GetFlag(FLAGS_socket_owner); !owner.empty()) {
    absl::StatusOr<uid_t> uid = ParseUser(owner, "--socket-owner");
    if (!uid.ok()) return uid.status();
    defaults.owner = absl::StrCat(*uid);
  }
  if (const std::string group = absl::GetFlag(FLAGS_socket_group); !group.empty()) {
    absl::StatusOr<gid_t> gid = ParseGroup(group, "--socket-group");
    if (!gid.ok()) return gid.status();
    defaults.group = absl::StrCat(*gid);
  }
  return defaults;
}

}  // namespace vhostd
