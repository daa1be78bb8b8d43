#include "client/flag_values.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "gtest/gtest.h"

namespace vhostctl {
namespace {

TEST(FlagValuesTest, Uint64) {
  EXPECT_EQ(ParseUint64("0", 10), 0u);
  EXPECT_EQ(ParseUint64("10", 10), 10u);
  EXPECT_EQ(ParseUint64("18446744073709551615", UINT64_MAX), UINT64_MAX);
  for (const char* bad : {"11", "", "-1", "+1", " 1", "1 ", "0x1", "1e1", "1.0",
                          "18446744073709551616", "000000000000000000001"}) {
    EXPECT_EQ(ParseUint64(bad, 10), std::nullopt) << bad;
  }
}

TEST(FlagValuesTest, Int64) {
  const int64_t min = std::numeric_limits<int64_t>::min();
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ParseInt64("-9223372036854775808", min, max), min);
  EXPECT_EQ(ParseInt64("9223372036854775807", min, max), max);
  EXPECT_EQ(ParseInt64("-5", -10, 10), -5);
  for (const char* bad : {"-11", "11", "-", "", "--1", "+1", "9223372036854775808", " -1"}) {
    EXPECT_EQ(ParseInt64(bad, -10, 10), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseInt64("-0", 0, 10), std::nullopt);  // no sign where none belongs
}

TEST(FlagValuesTest, FiniteDouble) {
  EXPECT_EQ(ParseFiniteDouble("2.5"), 2.5);
  EXPECT_EQ(ParseFiniteDouble("1e3"), 1000);
  EXPECT_EQ(ParseFiniteDouble("-1"), -1);
  for (const char* bad : {"", "inf", "nan", "1s", " 1", "1 ", "abc", "1e999"}) {
    EXPECT_EQ(ParseFiniteDouble(bad), std::nullopt) << bad;
  }
}

TEST(FlagValuesTest, Bool) {
  for (const char* yes : {"true", "TRUE", "yes", "on", "1"}) EXPECT_EQ(ParseBool(yes), true) << yes;
  for (const char* no : {"false", "No", "off", "0"}) EXPECT_EQ(ParseBool(no), false) << no;
  for (const char* bad : {"", "2", "maybe", "t"}) EXPECT_EQ(ParseBool(bad), std::nullopt) << bad;
}

TEST(FlagValuesTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("caf\xc3"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));         // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));     // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(FlagValuesTest, Quoted) { EXPECT_EQ(Quoted("a b"), "'a b'"); }

}  // namespace
}  // namespace vhostctl
