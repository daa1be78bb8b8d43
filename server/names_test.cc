#include "server/names.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::StartsWith;

void ExpectValid(const std::string& name) {
  absl::Status status = ValidateName(name, "port.name");
  EXPECT_TRUE(status.ok()) << "\"" << name << "\": " << status;
}

void ExpectInvalid(const std::string& name) {
  absl::Status status = ValidateName(name, "port.name");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "\"" << name << "\" accepted";
  EXPECT_THAT(std::string(status.message()), StartsWith("port.name: ")) << "\"" << name << "\"";
}

TEST(ValidateNameTest, AcceptsLabels) {
  ExpectValid("a");
  ExpectValid("0");
  ExpectValid("vm1");
  ExpectValid("vm-1");
  ExpectValid("a--b");
  ExpectValid("1abc");
  ExpectValid("abc1");
  ExpectValid("0123456789-abcdefghijklmnopqrstuvwxyz");
}

TEST(ValidateNameTest, LengthLimitIs63) {
  ExpectValid(std::string(63, 'a'));
  ExpectValid("a" + std::string(61, '-') + "z");
  ExpectInvalid(std::string(64, 'a'));
  ExpectInvalid(std::string(1000, 'a'));
}

TEST(ValidateNameTest, EmptyIsRequired) {
  absl::Status status = ValidateName("", "cross_connect.port_a");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "cross_connect.port_a: required");
}

TEST(ValidateNameTest, LeadingOrTrailingDash) {
  ExpectInvalid("-a");
  ExpectInvalid("a-");
  ExpectInvalid("-");
  ExpectInvalid("--");
  ExpectInvalid("-" + std::string(62, 'a'));
}

TEST(ValidateNameTest, OnlyLowerCaseLettersDigitsAndDash) {
  ExpectInvalid("A");
  ExpectInvalid("vmA");
  ExpectInvalid("Vm1");
  ExpectInvalid("vm_1");
  ExpectInvalid("_");
  ExpectInvalid("vm.1");
  ExpectInvalid("vm 1");
  ExpectInvalid("vm/1");
  ExpectInvalid("..");
  ExpectInvalid("vm1\n");
  ExpectInvalid(std::string("vm\0x", 4));
  ExpectInvalid("v\xc3\xa9");  // UTF-8 e-acute
}

TEST(ValidateNameTest, MessageNamesTheGivenField) {
  absl::Status status = ValidateName("Bad", "cross_connect.name");
  EXPECT_THAT(std::string(status.message()), StartsWith("cross_connect.name: "));
}

}  // namespace
}  // namespace vhostd
