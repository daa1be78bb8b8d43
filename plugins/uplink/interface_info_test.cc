#include "plugins/uplink/interface_info.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace vhostd {
namespace {

// A fake /sys/class/net with one interface.
class InterfaceInfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/net_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    const std::string dev = root_ + "/up0";
    for (const std::string& dir : {dev, dev + "/statistics", dev + "/queues", dev + "/queues/rx-0",
                                   dev + "/queues/rx-1", dev + "/queues/tx-0"}) {
      ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    }
    Write(dev + "/ifindex", "7\n");
    Write(dev + "/flags", "0x1003\n");
    Write(dev + "/carrier", "1\n");
    Write(dev + "/mtu", "1450\n");
    Write(dev + "/address", "02:00:00:00:00:07\n");
    Write(dev + "/statistics/rx_packets", "11\n");
    Write(dev + "/statistics/tx_packets", "22\n");
    Write(dev + "/statistics/rx_dropped", "3\n");
    Write(dev + "/statistics/tx_dropped", "4\n");
  }
  void TearDown() override { system(("rm -rf '" + root_ + "'").c_str()); }
  static void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  std::string root_;
};

TEST_F(InterfaceInfoTest, ReadsWhatSysfsSays) {
  const InterfaceInfo info = ReadInterfaceInfo("up0", root_);
  EXPECT_TRUE(info.exists);
  EXPECT_EQ(info.ifindex, 7);
  EXPECT_TRUE(info.admin_up);
  EXPECT_TRUE(info.carrier);
  EXPECT_EQ(info.mtu, 1450u);
  EXPECT_EQ(info.mac, "02:00:00:00:00:07");
  EXPECT_EQ(info.rx_packets, 11u);
  EXPECT_EQ(info.tx_packets, 22u);
  EXPECT_EQ(info.rx_dropped, 3u);
  EXPECT_EQ(info.tx_dropped, 4u);
  EXPECT_EQ(CountRxQueues("up0", root_), 2);
}

TEST_F(InterfaceInfoTest, DownAndWithoutCarrier) {
  Write(root_ + "/up0/flags", "0x1002\n");
  Write(root_ + "/up0/carrier", "0\n");
  const InterfaceInfo info = ReadInterfaceInfo("up0", root_);
  EXPECT_TRUE(info.exists);
  EXPECT_FALSE(info.admin_up);
  EXPECT_FALSE(info.carrier);
}

TEST_F(InterfaceInfoTest, MissingOrInvalidNamesDoNotExist) {
  EXPECT_FALSE(ReadInterfaceInfo("nope", root_).exists);
  EXPECT_FALSE(ReadInterfaceInfo("../up0", root_).exists);  // never outside the tree
  EXPECT_FALSE(ReadInterfaceInfo("", root_).exists);
  EXPECT_EQ(CountRxQueues("nope", root_), 0);
}

TEST(ValidInterfaceNameTest, FollowsTheKernelsRules) {
  for (const char* good : {"eth0", "vx0", "bond0.100", "a", "abcdefghijklmno"}) EXPECT_TRUE(ValidInterfaceName(good));
  for (const char* bad : {"", ".", "..", "a/b", "a:b", "a b", "abcdefghijklmnop", "tab\t"}) {
    EXPECT_FALSE(ValidInterfaceName(bad)) << bad;
  }
}

}  // namespace
}  // namespace vhostd
