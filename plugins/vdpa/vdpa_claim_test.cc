#include "plugins/vdpa/vdpa_claim.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/vdpa/testing/scratch_dir.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class VdpaClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = scratch_.path();
    ASSERT_FALSE(root_.empty()) << "no scratch directory";
    locations_.claims_dir = root_ + "/vhostd/vdpa";  // neither directory exists yet
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

  ScratchDir scratch_{"vdpa_claim_test"};
  std::string root_;  // scratch_.path()
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
  const std::string good =
      "driver: \"vhost_vdpa\"\ndriver_override: \"\"\ndevice_mac: \"\"\ninterface: \"vnet0\"\nnetns: \"\"\n";
  WriteRaw(good);
  ASSERT_TRUE(ReadVdpaClaim("vdpa0", locations_).ok());
  // `good` with one field's line replaced (or dropped, for an empty `line`).
  auto with = [&good](const std::string& field, const std::string& line) {
    std::string text;
    for (absl::string_view l : absl::StrSplit(good, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(l, field + ":")) {
        if (!line.empty()) absl::StrAppend(&text, line, "\n");
      } else {
        absl::StrAppend(&text, l, "\n");
      }
    }
    return text;
  };
  struct Case {
    std::string text;
    std::string why;
  };
  const std::vector<Case> cases = {
      {with("driver", "driver: \"mlx5_core\""), "line 1 (driver): not a driver vhostd takes devices from"},
      {with("driver_override", "driver_override: \"../../x\""), "line 2 (driver_override): not a driver name"},
      {with("device_mac", "device_mac: \"ff:ff:ff:ff:ff:ff\""), "line 3 (device_mac)"},
      {with("interface", "interface: \"a/b\""), "line 4 (interface): not an interface name"},
      {with("netns", "netns: \"pod1\""), "line 5 (netns): not an absolute path"},
      {with("netns", ""), ": no netns"},
      {good + "driver: \"\"\n", "line 6"},  // a field given twice
      {good + "colour: \"blue\"\n", "line 6"},
      {good + "garbage\n", "line 7"},  // the parser sees the missing ':' at the next token
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
