// Who may use the gRPC API over its Unix socket, judged from the connecting process's
// credentials as the kernel reports them (SO_PEERCRED, SO_PEERGROUPS), not from anything
// the client says.
#ifndef VHOSTD_SERVER_PEER_CREDENTIALS_H_
#define VHOSTD_SERVER_PEER_CREDENTIALS_H_

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vhostd {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;                // effective group at connect()
  std::vector<gid_t> groups;    // supplementary groups at connect()
};

// The credentials of the process at the other end of connected Unix socket `fd`.
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

// Root and the daemon's own user are always allowed; so is anyone whose uid is listed,
// or whose effective or supplementary group is listed.
class PeerPolicy {
 public:
  PeerPolicy(uid_t self, std::set<uid_t> uids, std::set<gid_t> gids)
      : self_(self), uids_(std::move(uids)), gids_(std::move(gids)) {}

  bool Allows(const PeerCredentials& peer) const;
  // "uids 0, 1000; gids 107", for the start-up log.
  std::string Describe() const;

 private:
  uid_t self_;
  std::set<uid_t> uids_;
  std::set<gid_t> gids_;
};

// A user (name or number) and a group (name or number), as flags give them; errors name
// `flag`.
absl::StatusOr<uid_t> ParseUser(const std::string& text, const std::string& flag);
absl::StatusOr<gid_t> ParseGroup(const std::string& text, const std::string& flag);
// Comma-separated lists of them; empty text is an empty list.
absl::StatusOr<std::set<uid_t>> ParseUserList(const std::string& text, const std::string& flag);
absl::StatusOr<std::set<gid_t>> ParseGroupList(const std::string& text, const std::string& flag);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PEER_CREDENTIALS_H_
