#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/file_lock.h"
#include "server/socket_owner.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

class SocketFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/socket_files_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { system(absl::StrCat("rm -rf ", dir_).c_str()); }

  // A socket bound at `path`; listening if `listen_too`. The caller closes it.
  static int Bind(const std::string& path, bool listen_too) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
    if (listen_too) {
      EXPECT_EQ(listen(fd, 4), 0);
    }
    return fd;
  }

  static bool Exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }

  std::string dir_;
};

TEST_F(SocketFilesTest, SecondLockIsRefusedNamingTheHolder) {
  const std::string lock = dir_ + "/state.json.lock";
  absl::StatusOr<FileLock> first = FileLock::Acquire(lock, "--state-file", "the state file x");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<FileLock> second = FileLock::Acquire(lock, "--state-file", "the state file x");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("--state-file: the state file x is in use by another vhostd"));
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("(pid ", getpid(), ")")));
}

TEST_F(SocketFilesTest, LockIsFreeAgainOnceReleased) {
  const std::string lock = dir_ + "/l";
  { ASSERT_TRUE(FileLock::Acquire(lock, "--f", "x").ok()); }
  EXPECT_TRUE(FileLock::Acquire(lock, "--f", "x").ok());
}

TEST_F(SocketFilesTest, LockFileThatIsASymlinkIsRefused) {
  const std::string target = dir_ + "/target";
  std::ofstream(target) << "";
  ASSERT_EQ(symlink(target.c_str(), (dir_ + "/l").c_str()), 0);
  absl::StatusOr<FileLock> lock = FileLock::Acquire(dir_ + "/l", "--grpc-socket", "x");
  ASSERT_FALSE(lock.ok());
  EXPECT_THAT(lock.status().message(), HasSubstr("--grpc-socket: cannot open lock file"));
}

TEST_F(SocketFilesTest, ClaimingAFreePathIsFine) { EXPECT_TRUE(ClaimSocketPath(dir_ + "/none.sock", "--f").ok()); }

TEST_F(SocketFilesTest, LiveListenerIsRefusedWithItsPid) {
  const std::string path = dir_ + "/live.sock";
  const int fd = Bind(path, true);
  absl::Status s = ClaimSocketPath(path, "--grpc-socket");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("--grpc-socket: ", path, " is served by another live process (pid ",
                                                  getpid(), ")")));
  EXPECT_TRUE(Exists(path));
  close(fd);
}

TEST_F(SocketFilesTest, StaleSocketIsRemoved) {
  const std::string path = dir_ + "/stale.sock";
  close(Bind(path, true));  // the "daemon" died: the file stays, nobody listens
  ASSERT_TRUE(Exists(path));
  EXPECT_TRUE(ClaimSocketPath(path, "--grpc-socket").ok());
  EXPECT_FALSE(Exists(path));
}

TEST_F(SocketFilesTest, RegularFileIsNeverRemoved) {
  const std::string path = dir_ + "/data";
  std::ofstream(path) << "precious";
  absl::Status s = ClaimSocketPath(path, "--grpc-socket");
  EXPECT_THAT(s.message(), HasSubstr("exists and is not a socket"));
  EXPECT_TRUE(Exists(path));
}

TEST_F(SocketFilesTest, OnlyTheOwnSocketFileIsRemoved) {
  const std::string path = dir_ + "/api.sock";
  const int mine = Bind(path, true);
  absl::StatusOr<SocketFile> my_file = StatSocketFile(path);
  ASSERT_TRUE(my_file.ok());
  // Another process replaced it (e.g. a daemon that took this one for dead).
  ASSERT_EQ(unlink(path.c_str()), 0);
  const int theirs = Bind(path, true);
  EXPECT_FALSE(RemoveSocketIfOwned(path, *my_file));
  EXPECT_TRUE(Exists(path));
  absl::StatusOr<SocketFile> their_file = StatSocketFile(path);
  ASSERT_TRUE(their_file.ok());
  EXPECT_TRUE(RemoveSocketIfOwned(path, *their_file));
  EXPECT_FALSE(Exists(path));
  close(mine);
  close(theirs);
}

}  // namespace
}  // namespace vhostd
