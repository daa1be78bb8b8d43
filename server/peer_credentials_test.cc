#include "server/peer_credentials.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

PeerCredentials Peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) { return {1, uid, gid, groups}; }

TEST(PeerPolicyTest, RootAndTheDaemonsUserAreAlwaysAllowed) {
  const PeerPolicy policy(1000, {}, {});
  EXPECT_TRUE(policy.Allows(Peer(0, 0)));
  EXPECT_TRUE(policy.Allows(Peer(1000, 1000)));
  EXPECT_FALSE(policy.Allows(Peer(1001, 1001)));
  EXPECT_FALSE(policy.Allows(Peer(65534, 65534)));
}

TEST(PeerPolicyTest, ListedUsersAndGroupsAreAllowed) {
  const PeerPolicy policy(0, {1001}, {107});
  EXPECT_TRUE(policy.Allows(Peer(1001, 5)));
  EXPECT_TRUE(policy.Allows(Peer(2000, 107)));
  EXPECT_TRUE(policy.Allows(Peer(2000, 5, {4, 107})));  // supplementary group
  EXPECT_FALSE(policy.Allows(Peer(2000, 5, {4, 108})));
  EXPECT_EQ(policy.Describe(), "uids 0, 1001; gids 107");
}

TEST(PeerCredentialsTest, ReadsTheKernelsViewOfThePeer) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(fds[0]);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->pid, getpid());
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->gid, getegid());
  EXPECT_EQ(static_cast<int>(peer->groups.size()), getgroups(0, nullptr));
  close(fds[0]);
  close(fds[1]);
}

TEST(ParseIdsTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseUser("root", "--u"), 0u);
  EXPECT_EQ(*ParseUser("65534", "--u"), 65534u);
  EXPECT_EQ(*ParseGroup("root", "--g"), 0u);
  EXPECT_EQ(*ParseGroupList("0, 12,root", "--g"), (std::set<gid_t>{0, 12}));
  EXPECT_TRUE(ParseUserList("", "--u")->empty());
}

TEST(ParseIdsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(ParseUser("no-such-user-x", "--grpc-allowed-uids").status().message(),
              HasSubstr("--grpc-allowed-uids: \"no-such-user-x\" is no user name or uid"));
  EXPECT_FALSE(ParseUser("4294967295", "--u").ok());  // (uid_t)-1 means "no id"
  EXPECT_FALSE(ParseUser("-1", "--u").ok());
  EXPECT_FALSE(ParseGroup("", "--g").ok());
  EXPECT_THAT(ParseGroupList("0,,1", "--grpc-allowed-gids").status().message(), HasSubstr("--grpc-allowed-gids"));
  EXPECT_THAT(ParseUser(std::string(500, 'a'), "--u").status().message(), HasSubstr("...\""));
}

}  // namespace
}  // namespace vhostd
