#include "server/peer_credentials.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/names.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vhostd {
namespace {

constexpr size_t kMaxNameLength = 64;
constexpr int kMaxGroups = 1024;

// A whole number below the kernel's "no id" value, (uid_t)-1.
bool ParseId(const std::string& text, uint32_t* id) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos && absl::SimpleAtoi(text, id) &&
         *id != static_cast<uint32_t>(-1);
}


template <typename Id, typename Parse>
absl::StatusOr<std::set<Id>> ParseList(const std::string& text, const std::string& flag, Parse parse) {
  std::set<Id> ids;
  if (text.empty()) return ids;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    absl::StatusOr<Id> id = parse(std::string(absl::StripAsciiWhitespace(item)), flag);
    if (!id.ok()) return id.status();
    ids.insert(*id);
  }
  return ids;
}

}  // namespace

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(absl::StrCat("SO_PEERCRED: ", strerror(errno)));
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  std::vector<gid_t> groups(kMaxGroups);
  socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) != 0) {
    return absl::InternalError(absl::StrCat("SO_PEERGROUPS: ", strerror(errno)));
  }
  groups.resize(size / sizeof(gid_t));
  peer.groups = std::move(groups);
  return peer;
}

bool PeerPolicy::Allows(const PeerCredentials& peer) const {
  if (peer.uid == 0 || peer.uid == self_ || uids_.count(peer.uid)) return true;
  if (gids_.count(peer.gid)) return true;
  for (gid_t g : peer.groups) {
    if (gids_.count(g)) return true;
  }
  return false;
}

std::string PeerPolicy::Describe() const {
  std::set<uid_t> uids = uids_;
  uids.insert(0);
  uids.insert(self_);
  return absl::StrCat("uids ", absl::StrJoin(uids, ", "), gids_.empty() ? "" : "; gids ", absl::StrJoin(gids_, ", "));
}

absl::StatusOr<uid_t> ParseUser(const std::string& text, const std::string& flag) {
  uint32_t id = 0;
  if (ParseId(text, &id)) return static_cast<uid_t>(id);
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (text.empty() || text.size() > kMaxNameLength ||
      getpwnam_r(text.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", "\"" + LimitForMessage(text) + "\"", " is no user name or uid"));
  }
  return found->pw_uid;
}

absl::StatusOr<gid_t> ParseGroup(const std::string& text, const std::string& flag) {
  uint32_t id = 0;
  if (ParseId(text, &id)) return static_cast<gid_t>(id);
  group entry{};
  group* found = nullptr;
  std::vector<char> buf(65536);
  if (text.empty() || text.size() > kMaxNameLength ||
      getgrnam_r(text.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", "\"" + LimitForMessage(text) + "\"", " is no group name or gid"));
  }
  return found->gr_gid;
}

absl::StatusOr<std::set<uid_t>> ParseUserList(const std::string& text, const std::string& flag) {
  return ParseList<uid_t>(text, flag, &ParseUser);
}

absl::StatusOr<std::set<gid_t>> ParseGroupList(const std::string& text, const std::string& flag) {
  return ParseList<gid_t>(text, flag, &ParseGroup);
}

}  // namespace vhostd
