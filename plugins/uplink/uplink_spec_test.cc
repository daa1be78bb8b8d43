#include "plugins/uplink/uplink_spec.h"

#include <string>

#include "gtest/gtest.h"

namespace vhostd::uplink {
namespace {

UplinkSpec Spec(const std::string& interface) {
  UplinkSpec spec;
  spec.set_interface(interface);
  return spec;
}

// The error's message, which must start with the field it names.
std::string Refusal(UplinkSpec spec) {
  const absl::Status status = NormalizeUplinkSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(UplinkSpecTest, FillsInDefaults) {
  UplinkSpec spec = Spec("veth0");
  ASSERT_TRUE(NormalizeUplinkSpec(spec).ok());
  EXPECT_EQ(spec.queues(), 1u);
  EXPECT_TRUE(spec.has_promiscuous());
  EXPECT_TRUE(spec.promiscuous());
  EXPECT_EQ(spec.mode(), UplinkSpec::MODE_AUTO);  // stays what was asked: the status says what ran
}

TEST(UplinkSpecTest, KeepsWhatWasSet) {
  UplinkSpec spec = Spec("bond0.100");
  spec.set_mode(UplinkSpec::MODE_AF_PACKET);
  spec.set_queues(4);
  spec.set_promiscuous(false);
  ASSERT_TRUE(NormalizeUplinkSpec(spec).ok());
  EXPECT_EQ(spec.queues(), 4u);
  EXPECT_FALSE(spec.promiscuous());
  EXPECT_EQ(spec.mode(), UplinkSpec::MODE_AF_PACKET);
}

TEST(UplinkSpecTest, NormalizingTwiceChangesNothing) {
  UplinkSpec once = Spec("vx0");
  ASSERT_TRUE(NormalizeUplinkSpec(once).ok());
  UplinkSpec twice = once;
  ASSERT_TRUE(NormalizeUplinkSpec(twice).ok());
  EXPECT_EQ(once.SerializeAsString(), twice.SerializeAsString());
}

TEST(UplinkSpecTest, InterfaceNames) {
  for (const char* good : {"eth0", "vx0", "bond0.100", "a", "abcdefghijklmno", "en-p1_s0"}) {
    UplinkSpec spec = Spec(good);
    EXPECT_TRUE(NormalizeUplinkSpec(spec).ok()) << good;
  }
  EXPECT_EQ(Refusal(Spec("")), "interface: required (the name of an existing interface)");
  EXPECT_EQ(Refusal(Spec("abcdefghijklmnop")), "interface: \"abcdefghijklmnop\" is longer than 15 characters");
  for (const char* bad : {".", ".."}) EXPECT_EQ(Refusal(Spec(bad)).rfind("interface: \"", 0), 0u) << bad;
  for (const char* bad : {"a/b", "a:b", "a b", "tab\t", "nl\n"}) {
    EXPECT_NE(Refusal(Spec(bad)).find("is not an interface name"), std::string::npos) << bad;
  }
  // Legal for Linux, but they would split DPDK's "iface=NAME,..." device arguments.
  EXPECT_EQ(Refusal(Spec("a,qpairs=9")), "interface: \"a,qpairs=9\" contains ',', which DPDK's device arguments "
                                         "can't carry");
  EXPECT_EQ(Refusal(Spec("a=b")), "interface: \"a=b\" contains '=', which DPDK's device arguments can't carry");
  EXPECT_EQ(Refusal(Spec(std::string("a\0b", 3))).rfind("interface: ", 0), 0u);
}

TEST(UplinkSpecTest, Queues) {
  for (uint32_t bad : {0u, 17u, 1000u}) {
    UplinkSpec spec = Spec("veth0");
    spec.set_queues(bad);
    EXPECT_EQ(Refusal(spec), "queues: " + std::to_string(bad) + " is out of range 1..16");
  }
  UplinkSpec spec = Spec("veth0");
  spec.set_queues(16);
  EXPECT_TRUE(NormalizeUplinkSpec(spec).ok());
}

TEST(UplinkSpecTest, UnknownModeNumbers) {
  UplinkSpec spec = Spec("veth0");
  spec.set_mode(static_cast<UplinkSpec::Mode>(7));
  EXPECT_EQ(Refusal(spec), "mode: 7 is not a mode (MODE_AUTO, MODE_AF_XDP, MODE_AF_PACKET)");
}

TEST(UplinkSpecTest, ResourceIsTheInterface) {
  EXPECT_EQ(UplinkResource(Spec("veth0")), "interface veth0");
  // Equal after normalization whatever else differs: one port per interface.
  UplinkSpec a = Spec("veth0"), b = Spec("veth0");
  b.set_mode(UplinkSpec::MODE_AF_PACKET);
  EXPECT_EQ(UplinkResource(a), UplinkResource(b));
}

}  // namespace
}  // namespace vhostd::uplink
