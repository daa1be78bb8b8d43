#include "plugins/vhost_kernel/netdev.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;

void ExpectRejected(const std::string& text) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac(text);
  EXPECT_EQ(mac.status().code(), absl::StatusCode::kInvalidArgument)
      << "\"" << text << "\" accepted as " << (mac.ok() ? FormatMac(*mac) : "");
}

TEST(ParseUnicastMacTest, AcceptsLowercase) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("02:1a:2b:3c:4d:5e");
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(*mac, (MacAddress{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e}));
}

TEST(ParseUnicastMacTest, AcceptsUppercaseAndFormatsLowercase) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("52:54:00:AB:CD:EF");
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(*mac, (MacAddress{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}));
  EXPECT_EQ(FormatMac(*mac), "52:54:00:ab:cd:ef");
}

TEST(ParseUnicastMacTest, AcceptsAllOnesExceptMulticastBit) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("fe:ff:ff:ff:ff:ff");
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(*mac, (MacAddress{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(ParseUnicastMacTest, RejectsWrongLength) {
  ExpectRejected("");
  ExpectRejected("02:00:00:00:00");
  ExpectRejected("02:00:00:00:00:0");
  ExpectRejected("2:0:0:0:0:1");
  ExpectRejected("02:00:00:00:00:01:02");
  ExpectRejected("020000000001");
  ExpectRejected("02-00-00-00-00-01");
}

TEST(ParseUnicastMacTest, RejectsNonHex) {
  ExpectRejected("02:00:00:00:00:0g");
  ExpectRejected("g2:00:00:00:00:01");
  ExpectRejected("02:zz:00:00:00:01");
  // sscanf's %x would take these (whitespace, a sign, a 0x prefix) as digits.
  ExpectRejected(" 2:00:00:00:00:01");
  ExpectRejected("02:00:00:00:00: 1");
  ExpectRejected("+2:00:00:00:00:01");
  ExpectRejected("02:00:00:00:00:-0");
  ExpectRejected("0x:00:00:00:00:01");
  ExpectRejected("02:00:00:00:00:\t1");
}

TEST(ParseUnicastMacTest, RejectsTrailingGarbage) {
  ExpectRejected("02:00:00:00:00:01x");
  ExpectRejected("02:00:00:00:00:01 ");
  ExpectRejected("02:00:00:00:00:01\n");
  ExpectRejected(std::string("02:00:00:00:00:01\0", 18));
}

TEST(ParseUnicastMacTest, RejectsMulticast) {
  ExpectRejected("01:00:5e:00:00:01");
  ExpectRejected("03:00:00:00:00:01");
  ExpectRejected("ff:ff:ff:ff:ff:ff");
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("33:33:00:00:00:01");
  EXPECT_THAT(std::string(mac.status().message()), HasSubstr("not a unicast address"));
}

TEST(ParseUnicastMacTest, RejectsAllZero) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("00:00:00:00:00:00");
  EXPECT_EQ(mac.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mac.status().message()), HasSubstr("not a unicast address"));
}

TEST(ParseUnicastMacTest, ErrorQuotesInput) {
  absl::StatusOr<MacAddress> mac = ParseUnicastMac("nonsense");
  EXPECT_THAT(std::string(mac.status().message()), HasSubstr("\"nonsense\""));
}

TEST(FormatMacTest, RoundTrips) {
  for (const std::string text : {"02:00:00:00:00:01", "52:54:00:12:34:56", "fe:dc:ba:98:76:54", "0a:0b:0c:0d:0e:0f"}) {
    absl::StatusOr<MacAddress> mac = ParseUnicastMac(text);
    ASSERT_TRUE(mac.ok()) << text << ": " << mac.status();
    EXPECT_EQ(FormatMac(*mac), text);
  }
}

TEST(FormatMacTest, PadsWithZeros) {
  EXPECT_EQ(FormatMac(MacAddress{0, 1, 2, 0xa, 0xb, 0x10}), "00:01:02:0a:0b:10");
  EXPECT_EQ(FormatMac(MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), "ff:ff:ff:ff:ff:ff");
}

TEST(ValidInterfaceNameTest, AcceptsOneToFifteenCharacters) {
  EXPECT_TRUE(ValidInterfaceName("a"));
  EXPECT_TRUE(ValidInterfaceName("tap0"));
  EXPECT_TRUE(ValidInterfaceName("vm-1_eth.0"));
  EXPECT_TRUE(ValidInterfaceName("..."));
  EXPECT_TRUE(ValidInterfaceName(".a"));
  EXPECT_TRUE(ValidInterfaceName(std::string(15, 'x')));
}

TEST(ValidInterfaceNameTest, RejectsEmptyAndSixteenCharacters) {
  EXPECT_FALSE(ValidInterfaceName(""));
  EXPECT_FALSE(ValidInterfaceName(std::string(16, 'x')));
  EXPECT_FALSE(ValidInterfaceName(std::string(100, 'x')));
}

TEST(ValidInterfaceNameTest, RejectsSeparatorsAndWhitespace) {
  EXPECT_FALSE(ValidInterfaceName("a/b"));
  EXPECT_FALSE(ValidInterfaceName("/"));
  EXPECT_FALSE(ValidInterfaceName("eth0:1"));
  EXPECT_FALSE(ValidInterfaceName("tap 0"));
  EXPECT_FALSE(ValidInterfaceName("tap\t0"));
  EXPECT_FALSE(ValidInterfaceName("tap0\n"));
  EXPECT_FALSE(ValidInterfaceName(" tap0"));
  EXPECT_FALSE(ValidInterfaceName("tap\x7f"));
  EXPECT_FALSE(ValidInterfaceName(std::string("ta\0p", 4)));
}

TEST(ValidInterfaceNameTest, RejectsDotAndDotDot) {
  EXPECT_FALSE(ValidInterfaceName("."));
  EXPECT_FALSE(ValidInterfaceName(".."));
}

TEST(InterfaceExistsTest, LoopbackExists) { EXPECT_TRUE(InterfaceExists("lo")); }

TEST(InterfaceExistsTest, UnknownNameDoesNotExist) {
  EXPECT_FALSE(InterfaceExists("vhtst-nx9q7z"));
  EXPECT_FALSE(InterfaceExists(""));
}

}  // namespace
}  // namespace vhostd
