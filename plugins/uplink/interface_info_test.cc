#include "plugins/uplink/interface_info.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace vhostd::uplink {
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
    Write(dev + "/flags", "0x1103\n");  // IFF_UP | IFF_BROADCAST | IFF_PROMISC | IFF_MULTICAST
    Write(dev + "/operstate", "up\n");
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
  EXPECT_TRUE(info.promiscuous);
  EXPECT_EQ(info.operstate, "up");
  EXPECT_EQ(info.mtu, 1450u);
  EXPECT_EQ(info.mac, "02:00:00:00:00:07");
  EXPECT_EQ(info.rx_packets, 11u);
  EXPECT_EQ(info.tx_packets, 22u);
  EXPECT_EQ(info.rx_dropped, 3u);
  EXPECT_EQ(info.tx_dropped, 4u);
}

TEST_F(InterfaceInfoTest, DownAndWithoutCarrier) {
  Write(root_ + "/up0/flags", "0x1002\n");
  Write(root_ + "/up0/carrier", "0\n");
  const InterfaceInfo info = ReadInterfaceInfo("up0", root_);
  EXPECT_TRUE(info.exists);
  EXPECT_FALSE(info.admin_up);
  EXPECT_FALSE(info.carrier);
  EXPECT_FALSE(info.promiscuous);
}

TEST_F(InterfaceInfoTest, NoCarrierWhileAdministrativelyDown) {
  // The kernel keeps carrier 1 on a veth that is down if its peer is up.
  Write(root_ + "/up0/flags", "0x1002\n");
  EXPECT_FALSE(ReadInterfaceInfo("up0", root_).carrier);
}

TEST_F(InterfaceInfoTest, MissingOrInvalidNamesDoNotExist) {
  EXPECT_FALSE(ReadInterfaceInfo("nope", root_).exists);
  EXPECT_FALSE(ReadInterfaceInfo("../up0", root_).exists);  // never outside the tree
  EXPECT_FALSE(ReadInterfaceInfo("", root_).exists);
}

TEST(CheckInterfaceNameTest, FollowsTheKernelsRulesAndDpdksArguments) {
  for (const char* good : {"eth0", "vx0", "bond0.100", "a", "abcdefghijklmno"}) {
    EXPECT_TRUE(CheckInterfaceName(good).ok()) << good;
  }
  for (const char* bad : {"", ".", "..", "a/b", "a:b", "a b", "abcdefghijklmnop", "tab\t", "a,b", "a=b"}) {
    EXPECT_EQ(CheckInterfaceName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// The real kernel: loopback exists everywhere, has no XDP program and no channels.
TEST(KernelQueriesTest, Loopback) {
  const InterfaceInfo lo = ReadInterfaceInfo("lo");
  ASSERT_TRUE(lo.exists);
  EXPECT_EQ(lo.ifindex, 1);
  EXPECT_EQ(CombinedChannels("lo"), 1u);
  EXPECT_EQ(CombinedChannels("nosuch0"), 0u);
  EXPECT_EQ(QueryXdp(lo.ifindex).id, 0u);
  EXPECT_EQ(QueryXdp(lo.ifindex).mode, "");
  EXPECT_FALSE(IsOwnTap("lo"));
}

// A fake /proc/self: descriptor 5 is a tap attached to "vk0", 6 a regular file.
TEST_F(InterfaceInfoTest, OwnTapsAreFoundThroughFdinfo) {
  const std::string proc = root_ + "/proc";
  for (const std::string& dir : {proc, proc + "/fd", proc + "/fdinfo"}) ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(symlink("/dev/net/tun", (proc + "/fd/5").c_str()), 0);
  ASSERT_EQ(symlink("/etc/hostname", (proc + "/fd/6").c_str()), 0);
  Write(proc + "/fdinfo/5", "pos:\t0\nflags:\t02\nmnt_id:\t9\niff:\tvk0\n");
  Write(proc + "/fdinfo/6", "pos:\t0\niff:\tother0\n");  // not a tun descriptor: ignored
  EXPECT_TRUE(IsOwnTap("vk0", proc));
  EXPECT_FALSE(IsOwnTap("vk", proc));
  EXPECT_FALSE(IsOwnTap("other0", proc));
  EXPECT_FALSE(IsOwnTap("vk0", root_ + "/noproc"));
}

}  // namespace
}  // namespace vhostd::uplink
