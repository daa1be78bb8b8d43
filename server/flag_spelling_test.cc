#include "server/flag_spelling.h"

#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_text_flag, "", "a flag with a value, for RegisteredFlagTakesValue");
ABSL_FLAG(bool, test_bool_flag, false, "a boolean flag, for RegisteredFlagTakesValue");

namespace vhostd {
namespace {

using ::testing::ElementsAre;

// The daemon's value flags, as the registry would report them.
bool TakesValue(absl::string_view name) {
  static const std::set<std::string> with_value = {"grpc_socket", "eal_args", "cores", "state_file"};
  return with_value.count(std::string(name)) != 0;
}

std::vector<std::string> Rewrite(std::vector<std::string> args) {
  args.insert(args.begin(), "vhostd");
  std::vector<std::string> out = DashedFlagsToAbsl(std::move(args), TakesValue);
  out.erase(out.begin());
  return out;
}

TEST(DashedFlagsToAbslTest, RewritesNamesNotValuesAfterEquals) {
  EXPECT_THAT(Rewrite({"--grpc-socket=/run/a-b.sock", "--eal-args=--file-prefix=x-y"}),
              ElementsAre("--grpc_socket=/run/a-b.sock", "--eal_args=--file-prefix=x-y"));
}

TEST(DashedFlagsToAbslTest, LeavesTheSeparateValueOfAValueFlagAlone) {
  EXPECT_THAT(Rewrite({"--eal-args", "--file-prefix=x", "--cores", "2-3"}),
              ElementsAre("--eal_args", "--file-prefix=x", "--cores", "2-3"));
}

TEST(DashedFlagsToAbslTest, RewritesTheArgumentAfterABooleanFlag) {
  EXPECT_THAT(Rewrite({"--some-switch", "--state-file", "/var/lib/a-b/state.json"}),
              ElementsAre("--some_switch", "--state_file", "/var/lib/a-b/state.json"));
}

TEST(DashedFlagsToAbslTest, ValueFlagAtTheEndAndPositionalArguments) {
  EXPECT_THAT(Rewrite({"plain-arg", "-single-dash", "--eal-args"}),
              ElementsAre("plain-arg", "-single-dash", "--eal_args"));
}

TEST(DashedFlagsToAbslTest, StopsAtDoubleDash) {
  EXPECT_THAT(Rewrite({"--grpc-socket=a", "--", "--state-file", "--no-huge"}),
              ElementsAre("--grpc_socket=a", "--", "--state-file", "--no-huge"));
}

TEST(DashedFlagsToAbslTest, KeepsTheProgramName) {
  EXPECT_THAT(DashedFlagsToAbsl({"my-vhostd", "--eal-args", "--in-memory"}, TakesValue),
              ElementsAre("my-vhostd", "--eal_args", "--in-memory"));
}

TEST(RegisteredFlagTakesValueTest, AsksTheRegistry) {
  EXPECT_TRUE(RegisteredFlagTakesValue("test_text_flag"));
  EXPECT_FALSE(RegisteredFlagTakesValue("test_bool_flag"));
  EXPECT_FALSE(RegisteredFlagTakesValue("no_such_flag"));
}

}  // namespace
}  // namespace vhostd
