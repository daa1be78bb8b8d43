#include "plugins/vdpa/vdpa_claim.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class VdpaClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/vdpa_claim_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
    root_ = pattern;
    locations_.claims_dir = root_ + "/vhostd/vdpa";  // neither directory exists yet
  }
  void TearDown() override {
    std::error_code ignored;
    if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
  }

  static VdpaClaim Claim() {
    VdpaClaim claim;
    claim.device = "vdpa0";
    claim.found.driver = "vhost_vdpa";
    claim.device_mac = "02:00:00:00:0d:0a";
    claim.interface = "vnet0";
    claim.netns = "/var/run/netns/pod1";
    return claim;
  }
  void WriteRaw(const std::string& text) {
    std::filesystem::create_directories(locations_.claims_dir);
    std::ofstream(VdpaClaimPath("vdpa0", locations_)) << text;
  }
  std::string Rejection() {
    absl::StatusOr<VdpaClaim> read = ReadVdpaClaim("vdpa0", locations_);
    EXPECT_FALSE(read.ok());
    if (read.ok()) return "";
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
    return std::string(read.status().message());
  }

  std::string root_;
  VdpaLocations locations_;
};

TEST_F(VdpaClaimTest, RoundTripsAndIsPrivate) {
  ASSERT_TRUE(WriteVdpaClaim(Claim(), locations_).ok());
  struct stat dir;
  ASSERT_EQ(stat(locations_.claims_dir.c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  absl::StatusOr<VdpaClaim> read = ReadVdpaClaim("vdpa0", locations_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->device, "vdpa0");
  EXPECT_EQ(read->found.driver, "vhost_vdpa");
  EXPECT_EQ(read->found.driver_override, "");
  EXPECT_EQ(read->device_mac, "02:00:00:00:0d:0a");
  EXPECT_EQ(read->interface, "vnet0");
  EXPECT_EQ(read->netns, "/var/run/netns/pod1");
  EXPECT_FALSE(std::filesystem::exists(VdpaClaimPath("vdpa0", locations_) + ".tmp"));
}

TEST_F(VdpaClaimTest, ReplacingKeepsTheLatest) {
  VdpaClaim claim = Claim();
  claim.device_mac = "";
  ASSERT_TRUE(WriteVdpaClaim(claim, locations_).ok());
  claim.device_mac = "02:00:00:00:0d:0b";
  claim.found.driver_override = "vhost_vdpa";
  ASSERT_TRUE(WriteVdpaClaim(claim, locations_).ok());
  absl::StatusOr<VdpaClaim> read = ReadVdpaClaim("vdpa0", locations_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->device_mac, "02:00:00:00:0d:0b");
  EXPECT_EQ(read->found.driver_override, "vhost_vdpa");
}

TEST_F(VdpaClaimTest, MissingIsNotFoundAndRemoveIsIdempotent) {
  EXPECT_EQ(ReadVdpaClaim("vdpa0", locations_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteVdpaClaim(Claim(), locations_).ok());
  RemoveVdpaClaim("vdpa0", locations_);
  EXPECT_EQ(ReadVdpaClaim("vdpa0", locations_).status().code(), absl::StatusCode::kNotFound);
  RemoveVdpaClaim("vdpa0", locations_);
}

TEST_F(VdpaClaimTest, BadRecordsNameTheFileAndLine) {
  const std::string good = "driver=vhost_vdpa\ndriver_override=\ndevice_mac=\ninterface=vnet0\nnetns=\n";
  WriteRaw(good);
  ASSERT_TRUE(ReadVdpaClaim("vdpa0", locations_).ok());
  struct Case {
    std::string text;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"driver=mlx5_core\ndriver_override=\ndevice_mac=\ninterface=vnet0\nnetns=\n",
       "line 1 (driver=mlx5_core): not a driver vhostd takes devices from"},
      {"driver=\ndriver_override=../../x\ndevice_mac=\ninterface=vnet0\nnetns=\n", "line 2"},
      {"driver=\ndriver_override=\ndevice_mac=ff:ff:ff:ff:ff:ff\ninterface=vnet0\nnetns=\n", "line 3"},
      {"driver=\ndriver_override=\ndevice_mac=\ninterface=a/b\nnetns=\n", "line 4 (interface=a/b)"},
      {"driver=\ndriver_override=\ndevice_mac=\ninterface=vnet0\nnetns=pod1\n", "not an absolute path"},
      {"driver=\ndriver_override=\ndevice_mac=\ninterface=vnet0\n", "no netns"},
      {good + "driver=\n", "line 6 (driver=): repeated key"},
      {good + "colour=blue\n", "unknown key"},
      {good + "garbage\n", "no key=value"},
      {std::string(5000, '#'), "too large"},
  };
  for (const Case& c : cases) {
    WriteRaw(c.text);
    const std::string why = Rejection();
    EXPECT_THAT(why, StartsWith("record " + VdpaClaimPath("vdpa0", locations_))) << c.text;
    EXPECT_THAT(why, HasSubstr(c.why)) << c.text;
  }
}

TEST_F(VdpaClaimTest, UnwritableDirectoryIsAnError) {
  std::filesystem::create_directories(root_ + "/vhostd");
  std::ofstream(locations_.claims_dir) << "a file, not a directory";
  absl::Status written = WriteVdpaClaim(Claim(), locations_);
  EXPECT_FALSE(written.ok());
  EXPECT_THAT(std::string(written.message()), HasSubstr(locations_.claims_dir));
}

}  // namespace
}  // namespace vhostd
