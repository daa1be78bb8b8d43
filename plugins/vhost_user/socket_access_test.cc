#include "plugins/vhost_user/socket_access.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

// The "Umask:" line of a /proc status file.
std::string UmaskIn(const std::string& status_file) {
  std::ifstream in(status_file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Umask:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
  }
  return "?";
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class CreateWithAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/socket_access_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_umask_ = umask(0);  // the worst case: every file the process makes is 0777
  }
  void TearDown() override {
    umask(old_umask_);
    close(fd_);
    unlink((dir_ + "/s.sock").c_str());
    rmdir(dir_.c_str());
  }

  // What lib/vhost does in server mode: bind and listen at once.
  bool BindAndListen(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 4) == 0;
  }

  std::string dir_;
  mode_t old_umask_ = 0;
  int fd_ = -1;
};

TEST_F(CreateWithAccessTest, SocketIsNeverMoreOpenThanAskedUnderUmask000) {
  const std::string path = dir_ + "/s.sock";
  mode_t mode_while_listening = 07777;
  std::string thread_umask, process_umask;
  ASSERT_TRUE(CreateWithAccess(path, SocketAccess{0640, std::nullopt, std::nullopt}, [&] {
                const bool ok = BindAndListen(path);
                mode_while_listening = ModeOf(path);  // connectable from here on
                thread_umask = UmaskIn("/proc/thread-self/status");
                process_umask = UmaskIn("/proc/self/status");
                return ok;
              }).ok());
  EXPECT_EQ(mode_while_listening, 0u);
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_EQ(thread_umask, "0777");
  EXPECT_EQ(process_umask, "0000");  // the other threads' umask did not change
  EXPECT_EQ(umask(0), 0u);
}

TEST_F(CreateWithAccessTest, OwnerAndGroupAreSetBeforeTheMode) {
  if (geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  const std::string path = dir_ + "/s.sock";
  ASSERT_TRUE(CreateWithAccess(path, SocketAccess{0660, 65534, 65534}, [&] { return BindAndListen(path); }).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(CreateWithAccessTest, FailedCreateAppliesNothing) {
  EXPECT_TRUE(CreateWithAccess(dir_ + "/s.sock", SocketAccess{}, [] { return false; }).ok());
  struct stat st {};
  EXPECT_NE(lstat((dir_ + "/s.sock").c_str(), &st), 0);
}

TEST(SocketModeTest, OctalModes) {
  EXPECT_EQ(*ParseSocketMode("0660", "socket_mode"), 0660u);
  EXPECT_EQ(*ParseSocketMode("600", "socket_mode"), 0600u);
  EXPECT_EQ(*ParseSocketMode("0777", "socket_mode"), 0777u);
  EXPECT_EQ(FormatSocketMode(0600), "0600");
  for (const char* bad : {"", "66", "1777", "4660", "0668", "rw-rw----", "-660", "00660"}) {
    EXPECT_THAT(ParseSocketMode(bad, "socket_mode").status().message(),
                HasSubstr("socket_mode: \"" + std::string(bad) + "\" is not an octal permission mode"))
        << bad;
  }
}

TEST(SocketModeTest, SpecFieldsAreCheckedAndNamed) {
  std::string mode = "660";
  EXPECT_TRUE(NormalizeSocketAccess(true, &mode, "root", "0").ok());
  EXPECT_EQ(mode, "0660");
  mode = "";
  EXPECT_THAT(NormalizeSocketAccess(true, &mode, "no-such-user-x", "").message(),
              HasSubstr("socket_owner: \"no-such-user-x\" is no user name or uid"));
  EXPECT_THAT(NormalizeSocketAccess(true, &mode, "", "no-such-group-x").message(),
              HasSubstr("socket_group: \"no-such-group-x\" is no group name or gid"));
  EXPECT_THAT(NormalizeSocketAccess(true, &mode, "4294967295", "").message(), HasSubstr("socket_owner"));
  mode = "0600";
  EXPECT_THAT(NormalizeSocketAccess(false, &mode, "", "").message(), HasSubstr("socket_mode: only for mode server"));
  mode = "";
  EXPECT_THAT(NormalizeSocketAccess(false, &mode, "", "kvm").message(), HasSubstr("socket_group: only for mode server"));
  EXPECT_TRUE(NormalizeSocketAccess(false, &mode, "", "").ok());
}

TEST(SocketModeTest, SpecOverridesDefaults) {
  const SocketAccess defaults{0660, 7, 8};
  absl::StatusOr<SocketAccess> unset = SocketAccessFor("", "", "", defaults);
  EXPECT_EQ(unset->mode, 0660u);
  EXPECT_EQ(*unset->owner, 7u);
  EXPECT_EQ(*unset->group, 8u);
  absl::StatusOr<SocketAccess> set = SocketAccessFor("0600", "9", "10", defaults);
  EXPECT_EQ(set->mode, 0600u);
  EXPECT_EQ(*set->owner, 9u);
  EXPECT_EQ(*set->group, 10u);
}

}  // namespace
}  // namespace vhostd
