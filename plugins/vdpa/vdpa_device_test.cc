#include "plugins/vdpa/vdpa_device.h"

#include <fcntl.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/vdpa/testing/scratch_dir.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kField[] = "port.vdpa.device";

TEST(IsVhostVdpaPathTest, AcceptsNumberedNodes) {
  const VdpaLocations locations;
  EXPECT_TRUE(IsVhostVdpaPath("/dev/vhost-vdpa-0", locations));
  EXPECT_TRUE(IsVhostVdpaPath("/dev/vhost-vdpa-3", locations));
  EXPECT_TRUE(IsVhostVdpaPath("/dev/vhost-vdpa-123", locations));
}

TEST(IsVhostVdpaPathTest, RejectsOtherPaths) {
  const VdpaLocations locations;
  EXPECT_FALSE(IsVhostVdpaPath("", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-x", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-1a", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-+1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa--1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa- 1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-1 ", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-1/", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-99999999999999999999", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-net", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev//vhost-vdpa-1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/../dev/vhost-vdpa-1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/tmp/vhost-vdpa-1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("vhost-vdpa-1", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/devx/vhost-vdpa-1", locations));
}

TEST(IsVhostVdpaPathTest, UsesLocationsDev) {
  VdpaLocations locations;
  locations.dev = "/tmp/fake/dev";
  EXPECT_TRUE(IsVhostVdpaPath("/tmp/fake/dev/vhost-vdpa-2", locations));
  EXPECT_FALSE(IsVhostVdpaPath("/dev/vhost-vdpa-2", locations));
}

TEST(IsVdpaNameTest, AcceptsNames) {
  EXPECT_TRUE(IsVdpaName("vdpa0"));
  EXPECT_TRUE(IsVdpaName("a"));
  EXPECT_TRUE(IsVdpaName("mlx5_vdpa-0.1"));
  EXPECT_TRUE(IsVdpaName("VDPA_Z9"));
  EXPECT_TRUE(IsVdpaName("..."));
  EXPECT_TRUE(IsVdpaName(std::string(31, 'v')));
}

TEST(IsVdpaNameTest, RejectsOthers) {
  EXPECT_FALSE(IsVdpaName(""));
  EXPECT_FALSE(IsVdpaName(std::string(32, 'v')));
  EXPECT_FALSE(IsVdpaName("."));
  EXPECT_FALSE(IsVdpaName(".."));
  EXPECT_FALSE(IsVdpaName("../vdpa0"));
  EXPECT_FALSE(IsVdpaName("/dev/vhost-vdpa-0"));
  EXPECT_FALSE(IsVdpaName("vdpa 0"));
  EXPECT_FALSE(IsVdpaName("vdpa:0"));
  EXPECT_FALSE(IsVdpaName("vdpa0\n"));
  EXPECT_FALSE(IsVdpaName("vdpä"));
  EXPECT_FALSE(IsVdpaName(std::string("vd\0pa", 5)));
}

// A fake /dev and /sys/bus/vdpa/devices in a fresh temporary directory.
class ResolveVhostVdpaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    ASSERT_FALSE(root_.empty()) << "no scratch directory";
    locations_.dev = root_ + "/dev";
    locations_.sysfs_devices = root_ + "/sys";
    ASSERT_EQ(mkdir(locations_.dev.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(locations_.sysfs_devices.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/drivers").c_str(), 0755), 0);
  }
  // sysfs/<name>, with a driver symlink to drivers/<driver> unless `driver` is empty.
  std::string AddDevice(const std::string& name, const std::string& driver) {
    const std::string dir = locations_.sysfs_devices + "/" + name;
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    if (!driver.empty()) {
      const std::string target = root_ + "/drivers/" + driver;
      mkdir(target.c_str(), 0755);
      EXPECT_EQ(symlink(target.c_str(), (dir + "/driver").c_str()), 0);
    }
    return dir;
  }
  void AddChild(const std::string& device_dir, const std::string& child) {
    EXPECT_EQ(mkdir((device_dir + "/" + child).c_str(), 0755), 0);
  }
  // A character device with /dev/null's numbers (tests run as root).
  void AddCharDevice(const std::string& path) {
    ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 3)), 0) << path << ": " << strerror(errno);
  }
  void AddRegularFile(const std::string& path) {
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    close(fd);
  }

  ScratchDir scratch_{"vdpa_device_test"};
  std::string root_;  // scratch_.path()
  VdpaLocations locations_;
};

TEST_F(ResolveVhostVdpaTest, ResolvesNameBoundToVhostVdpa) {
  const std::string dir = AddDevice("vdpa0", "vhost_vdpa");
  AddChild(dir, "vhost-vdpa-3");
  AddCharDevice(locations_.dev + "/vhost-vdpa-3");
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa0", locations_, kField);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, locations_.dev + "/vhost-vdpa-3");
}

TEST_F(ResolveVhostVdpaTest, NameBoundToVirtioVdpaIsFailedPrecondition) {
  AddDevice("vdpa1", "virtio_vdpa");
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa1", locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("virtio_vdpa"));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("vdpa1"));
}

TEST_F(ResolveVhostVdpaTest, NameWithoutDriverIsFailedPrecondition) {
  AddDevice("vdpa2", "");
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa2", locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("no driver"));
}

TEST_F(ResolveVhostVdpaTest, VhostVdpaBoundWithoutNodeIsFailedPrecondition) {
  AddDevice("vdpa4", "vhost_vdpa");
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa4", locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
}

TEST_F(ResolveVhostVdpaTest, VhostVdpaBoundWithMissingDevNodeIsNotFound) {
  const std::string dir = AddDevice("vdpa5", "vhost_vdpa");
  AddChild(dir, "vhost-vdpa-7");
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa5", locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("vhost-vdpa-7"));
}

TEST_F(ResolveVhostVdpaTest, MissingNameIsNotFound) {
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa9", locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("vdpa9"));
}

TEST_F(ResolveVhostVdpaTest, CharDevicePathResolvesToItself) {
  const std::string node = locations_.dev + "/vhost-vdpa-0";
  AddCharDevice(node);
  absl::StatusOr<std::string> path = ResolveVhostVdpa(node, locations_, kField);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, node);
}

TEST_F(ResolveVhostVdpaTest, MissingDevPathIsNotFound) {
  const std::string node = locations_.dev + "/vhost-vdpa-1";
  absl::StatusOr<std::string> path = ResolveVhostVdpa(node, locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr(node));
}

TEST_F(ResolveVhostVdpaTest, RegularFileAtDevPathIsFailedPrecondition) {
  const std::string node = locations_.dev + "/vhost-vdpa-2";
  AddRegularFile(node);
  absl::StatusOr<std::string> path = ResolveVhostVdpa(node, locations_, kField);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kFailedPrecondition) << path.status();
  EXPECT_THAT(std::string(path.status().message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("not a character device"));
}

TEST_F(ResolveVhostVdpaTest, ErrorsStartWithTheGivenField) {
  absl::StatusOr<std::string> path = ResolveVhostVdpa("vdpa9", locations_, "spec.dev");
  EXPECT_THAT(std::string(path.status().message()), StartsWith("spec.dev: "));
}

TEST_F(ResolveVhostVdpaTest, CheckNotBusyOnUnopenablePathIsFailedPrecondition) {
  const std::string missing = root_ + "/dev/does-not-exist";
  absl::Status status = CheckNotBusy(missing, kField);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(std::string(kField) + ": "));
  EXPECT_THAT(std::string(status.message()), HasSubstr(missing));
}

TEST_F(ResolveVhostVdpaTest, CheckNotBusyOnOpenableDeviceIsOk) {
  const std::string node = locations_.dev + "/vhost-vdpa-0";
  AddCharDevice(node);  // /dev/null: opens read-write, never busy
  EXPECT_TRUE(CheckNotBusy(node, kField).ok());
}

// Whether this process may raise RLIMIT_MEMLOCK to unlimited: the hard limit already is,
// or it has CAP_SYS_RESOURCE (root in a container may lack it).
bool CanRaiseMemlock() {
  rlimit limit{};
  if (getrlimit(RLIMIT_MEMLOCK, &limit) == 0 && limit.rlim_max == RLIM_INFINITY) return true;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      const uint64_t caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> CAP_SYS_RESOURCE) & 1;
    }
  }
  return false;
}

TEST(EnsureMemlockUnlimitedTest, RaisesToUnlimitedWhenAllowed) {
  if (!CanRaiseMemlock()) {
    // The kernel lab (//tests/lab:kernel_lab_test) runs this test as root with every
    // capability and sets VHOSTD_REQUIRE_KERNEL, so the raise is proven there.
    if (getenv("VHOSTD_REQUIRE_KERNEL") != nullptr) FAIL() << "cannot raise RLIMIT_MEMLOCK here";
    GTEST_SKIP() << "needs CAP_SYS_RESOURCE or an unlimited hard RLIMIT_MEMLOCK; "
                    "//tests/lab:kernel_lab_test runs it where it can";
  }
  ASSERT_TRUE(EnsureMemlockUnlimited().ok());
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &limit), 0);
  EXPECT_EQ(limit.rlim_cur, RLIM_INFINITY);
  // Idempotent: the second call finds the limit already unlimited.
  EXPECT_TRUE(EnsureMemlockUnlimited().ok());
}

TEST(EnsureMemlockUnlimitedTest, ExplainsWhenItCannotRaise) {
  if (CanRaiseMemlock()) GTEST_SKIP() << "the limit can be raised here";
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &before), 0);
  absl::Status status = EnsureMemlockUnlimited();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("RLIMIT_MEMLOCK is " + std::to_string(before.rlim_cur / 1024) + " KiB"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("ulimit -l unlimited"));
}

}  // namespace
}  // namespace vhostd
