#include "plugins/vhost_user/socket_path.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kField[] = "socket_path";

// A fresh socket directory under /tmp (short, so sun_path limits are testable; Bazel's
// TEST_TMPDIR can be longer than a socket path may be) plus an "outside" directory.
class SocketPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char base[] = "/tmp/vhostd_sp_XXXXXX";
    ASSERT_NE(mkdtemp(base), nullptr) << strerror(errno);
    base_ = base;
    dir_ = base_ + "/sockets";
    outside_ = base_ + "/outside";
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0700), 0);
    char real[PATH_MAX];
    ASSERT_NE(realpath(dir_.c_str(), real), nullptr);
    real_dir_ = real;
  }
  void TearDown() override {
    if (!base_.empty()) std::system(absl::StrCat("rm -rf '", base_, "'").c_str());
  }

  absl::StatusOr<std::string> Resolve(const std::string& path) { return ResolveSocketPath(path, dir_, kField); }

  void ExpectRejected(const std::string& path, const std::string& why) {
    absl::StatusOr<std::string> resolved = Resolve(path);
    ASSERT_FALSE(resolved.ok()) << "\"" << path << "\" resolved to " << *resolved;
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument) << resolved.status();
    EXPECT_THAT(std::string(resolved.status().message()), StartsWith(absl::StrCat(kField, ": ")));
    EXPECT_THAT(std::string(resolved.status().message()), HasSubstr(why));
  }

  std::string base_, dir_, outside_, real_dir_;
};

TEST_F(SocketPathTest, RelativePathIsJoinedToSocketDir) {
  absl::StatusOr<std::string> resolved = Resolve("vm1.sock");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/vm1.sock");
}

TEST_F(SocketPathTest, RelativePathInSubdirectory) {
  ASSERT_EQ(mkdir((dir_ + "/vms").c_str(), 0700), 0);
  absl::StatusOr<std::string> resolved = Resolve("vms/vm1.sock");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/vms/vm1.sock");
}

TEST_F(SocketPathTest, AbsolutePathInsideIsAccepted) {
  absl::StatusOr<std::string> resolved = Resolve(dir_ + "/vm1.sock");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/vm1.sock");
}

TEST_F(SocketPathTest, DotDotStayingInsideIsCanonicalized) {
  ASSERT_EQ(mkdir((dir_ + "/vms").c_str(), 0700), 0);
  absl::StatusOr<std::string> resolved = Resolve("vms/../vm1.sock");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/vm1.sock");
  // Equal requests compare equal once resolved.
  EXPECT_EQ(*Resolve(dir_ + "/./vm1.sock"), *resolved);
}

TEST_F(SocketPathTest, DotDotEscapingIsRejected) {
  ExpectRejected("../vm1.sock", "outside the socket directory");
  ExpectRejected("../outside/vm1.sock", "outside the socket directory");
  ExpectRejected(dir_ + "/../outside/vm1.sock", "outside the socket directory");
}

TEST_F(SocketPathTest, AbsolutePathOutsideIsRejected) {
  ExpectRejected(outside_ + "/vm1.sock", "outside the socket directory");
  ExpectRejected("/vm1.sock", "outside the socket directory");
}

TEST_F(SocketPathTest, SiblingWithSamePrefixIsOutside) {
  // "<dir>-evil" starts with "<dir>" but is not inside it.
  const std::string sibling = dir_ + "-evil";
  ASSERT_EQ(mkdir(sibling.c_str(), 0700), 0);
  ExpectRejected(sibling + "/vm1.sock", "outside the socket directory");
}

TEST_F(SocketPathTest, SymlinkedDirectoryPointingOutsideIsRejected) {
  ASSERT_EQ(symlink(outside_.c_str(), (dir_ + "/escape").c_str()), 0);
  ExpectRejected("escape/vm1.sock", "outside the socket directory");
}

TEST_F(SocketPathTest, SymlinkedDirectoryPointingInsideIsResolved) {
  ASSERT_EQ(mkdir((dir_ + "/real").c_str(), 0700), 0);
  ASSERT_EQ(symlink("real", (dir_ + "/alias").c_str()), 0);
  absl::StatusOr<std::string> resolved = Resolve("alias/vm1.sock");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/real/vm1.sock");
}

TEST_F(SocketPathTest, SocketDirReachedThroughSymlinkIsAccepted) {
  const std::string alias = base_ + "/alias-of-sockets";
  ASSERT_EQ(symlink(dir_.c_str(), alias.c_str()), 0);
  absl::StatusOr<std::string> resolved = ResolveSocketPath("vm1.sock", alias, kField);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, real_dir_ + "/vm1.sock");
}

TEST_F(SocketPathTest, FinalComponentSymlinkIsRejected) {
  ASSERT_EQ(symlink((outside_ + "/target.sock").c_str(), (dir_ + "/vm1.sock").c_str()), 0);
  ExpectRejected("vm1.sock", "symlink");
  // Even a dangling symlink pointing inside.
  ASSERT_EQ(symlink("nothing-here", (dir_ + "/vm2.sock").c_str()), 0);
  ExpectRejected("vm2.sock", "symlink");
}

TEST_F(SocketPathTest, ExistingRegularFileIsNotThisFunctionsConcern) {
  // Whether an existing file may be replaced is ClearStaleSocket's decision.
  std::ofstream(dir_ + "/vm1.sock") << "x";
  EXPECT_TRUE(Resolve("vm1.sock").ok());
}

TEST_F(SocketPathTest, MissingDirectoryIsRejected) {
  ExpectRejected("no-such-dir/vm1.sock", "no-such-dir");
}

TEST_F(SocketPathTest, ForbiddenCharactersAreRejected) {
  ExpectRejected("vm1,server=1.sock", "must not contain");
  ExpectRejected("a,b.sock", "must not contain");
  ExpectRejected("a=b.sock", "must not contain");
  ExpectRejected("a\nb.sock", "must not contain");
  ExpectRejected(std::string("a\0b.sock", 8), "must not contain");
}

TEST_F(SocketPathTest, EmptyIsRequired) { ExpectRejected("", "required"); }

TEST_F(SocketPathTest, PathsNotNamingAFileAreRejected) {
  ExpectRejected("vms/", "does not name a socket file");
  ExpectRejected(".", "does not name a socket file");
  ExpectRejected("..", "does not name a socket file");
  ExpectRejected(dir_ + "/", "does not name a socket file");
}

TEST_F(SocketPathTest, LengthLimitIsSunPath) {
  constexpr size_t kSunPath = sizeof(sockaddr_un{}.sun_path);
  ASSERT_EQ(kSunPath, 108u);
  const size_t prefix = real_dir_.size() + 1;
  ASSERT_LT(prefix, kSunPath - 1);
  // The longest path that fits (107 bytes + NUL) is accepted...
  const std::string fits(kSunPath - 1 - prefix, 'f');
  absl::StatusOr<std::string> resolved = Resolve(fits);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->size(), kSunPath - 1);
  // ...one byte more (108) is not, nor anything longer.
  ExpectRejected(std::string(kSunPath - prefix, 'f'), "bytes");
  ExpectRejected(std::string(200, 'f'), "bytes");
}

TEST_F(SocketPathTest, MissingSocketDirIsFailedPrecondition) {
  absl::StatusOr<std::string> resolved = ResolveSocketPath("vm1.sock", base_ + "/nope", kField);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SocketPathTest, DoesNotCreateAnything) {
  ASSERT_TRUE(Resolve("vm1.sock").ok());
  struct stat st;
  EXPECT_NE(lstat((dir_ + "/vm1.sock").c_str(), &st), 0);
}

// --- ClearStaleSocket ---

int BoundSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0) << strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  return fd;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST_F(SocketPathTest, ClearNoFileIsOk) {
  EXPECT_TRUE(ClearStaleSocket(dir_ + "/vm1.sock", kField).ok());
  EXPECT_FALSE(Exists(dir_ + "/vm1.sock"));
}

TEST_F(SocketPathTest, ClearRegularFileIsInvalidArgumentAndKeepsIt) {
  const std::string path = dir_ + "/vm1.sock";
  std::ofstream(path) << "precious";
  absl::Status status = ClearStaleSocket(path, kField);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(kField, ": ")));
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(SocketPathTest, ClearDirectoryIsInvalidArgument) {
  const std::string path = dir_ + "/vm1.sock";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  EXPECT_EQ(ClearStaleSocket(path, kField).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Exists(path));
}

TEST_F(SocketPathTest, ClearStaleSocketRemovesIt) {
  const std::string path = dir_ + "/vm1.sock";
  close(BoundSocket(path));  // bound, closed, never unlinked: what a crash leaves
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  ASSERT_TRUE(S_ISSOCK(st.st_mode));
  absl::Status status = ClearStaleSocket(path, kField);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_FALSE(Exists(path));
  // And the path can be bound again.
  close(BoundSocket(path));
}

TEST_F(SocketPathTest, ClearLiveSocketIsFailedPreconditionAndKeepsIt) {
  const std::string path = dir_ + "/vm1.sock";
  int fd = BoundSocket(path);
  ASSERT_EQ(listen(fd, 4), 0) << strerror(errno);
  absl::Status status = ClearStaleSocket(path, kField);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(kField, ": ")));
  EXPECT_TRUE(Exists(path));
  close(fd);
}

}  // namespace
}  // namespace vhostd
