#include "dataplane/eal.h"

#include <rte_config.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<int> ParseOk(const std::string& text) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList(text, "cores");
  EXPECT_TRUE(cpus.ok()) << "\"" << text << "\": " << cpus.status();
  return cpus.ok() ? *cpus : std::vector<int>{};
}

TEST(ParseCpuListTest, SingleCpu) {
  EXPECT_THAT(ParseOk("1"), ElementsAre(1));
  EXPECT_THAT(ParseOk("0"), ElementsAre(0));
}

TEST(ParseCpuListTest, List) { EXPECT_THAT(ParseOk("1,3"), ElementsAre(1, 3)); }

TEST(ParseCpuListTest, RangesAndSingles) {
  EXPECT_THAT(ParseOk("2-5,7"), ElementsAre(2, 3, 4, 5, 7));
  EXPECT_THAT(ParseOk("4-4"), ElementsAre(4));
}

TEST(ParseCpuListTest, DuplicatesAndOverlapsAreMergedAndSorted) {
  EXPECT_THAT(ParseOk("3,1,3"), ElementsAre(1, 3));
  EXPECT_THAT(ParseOk("5,2-4,3-6,2"), ElementsAre(2, 3, 4, 5, 6));
}

TEST(ParseCpuListTest, HighestLcoreAccepted) {
  EXPECT_THAT(ParseOk(absl::StrCat(RTE_MAX_LCORE - 1)), ElementsAre(RTE_MAX_LCORE - 1));
}

class ParseCpuListBadTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseCpuListBadTest, IsInvalidArgumentNamingTheField) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList(GetParam(), "poll-cores");
  ASSERT_FALSE(cpus.ok()) << "\"" << GetParam() << "\" parsed as " << absl::StrJoin(*cpus, ",");
  EXPECT_EQ(cpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(cpus.status().message()), StartsWith("poll-cores: "));
}

INSTANTIATE_TEST_SUITE_P(Bad, ParseCpuListBadTest,
                         ::testing::Values("", "a", "1a", "3-1", "-1", "1-", "1,,2", ",1", "1,", "1-2-3", "1.5",
                                           "0x1", absl::StrCat(RTE_MAX_LCORE), absl::StrCat("0-", RTE_MAX_LCORE),
                                           "0-2147483647", "99999999999999999999"));

TEST(ParseCpuListTest, ErrorQuotesTheBadElement) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuList("1,7-3,9", "cores");
  ASSERT_FALSE(cpus.ok());
  EXPECT_THAT(std::string(cpus.status().message()), HasSubstr("\"7-3\""));
}

EalOptions Options(std::vector<int> poll, std::vector<int> online) {
  EalOptions options;
  options.poll_cpus = std::move(poll);
  options.online_cpus = std::move(online);
  return options;
}

// The value following `flag`, or "" (and a failure) if the flag is absent.
std::string ValueOf(const std::vector<std::string>& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  if (it == args.end() || it + 1 == args.end()) {
    ADD_FAILURE() << flag << " missing in: " << absl::StrJoin(args, " ");
    return "";
  }
  return *(it + 1);
}

bool Has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

TEST(BuildEalArgsTest, LcoresMapControlToIdleCpusAndPinsPollers) {
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(Options({2, 3}, {0, 1, 2, 3}));
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(ValueOf(*args, "--lcores"), "0@(0,1),1@2,2@3");
  EXPECT_EQ(ValueOf(*args, "--main-lcore"), "0");
  EXPECT_EQ(ValueOf(*args, "--file-prefix"), "vhostd");
  EXPECT_EQ(ValueOf(*args, "--iova-mode"), "va");
  EXPECT_TRUE(Has(*args, "--no-pci"));
}

TEST(BuildEalArgsTest, PollCpusKeepTheirOrderAsLcores) {
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(Options({5, 1}, {0, 1, 2, 5, 7}));
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(ValueOf(*args, "--lcores"), "0@(0,2,7),1@5,2@1");
}

TEST(BuildEalArgsTest, AllCpusPollingLetsControlFloatOverAll) {
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(Options({0, 1}, {0, 1}));
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(ValueOf(*args, "--lcores"), "0@(0,1),1@0,2@1");
}

TEST(BuildEalArgsTest, NoHugeOnlyWithoutHugepages) {
  EalOptions options = Options({1}, {0, 1});
  options.memory_mb = 512;
  options.hugepages_available = false;
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(options);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_TRUE(Has(*args, "--no-huge"));
  EXPECT_EQ(ValueOf(*args, "-m"), "512");

  options.hugepages_available = true;
  args = BuildEalArgs(options);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_FALSE(Has(*args, "--no-huge")) << absl::StrJoin(*args, " ");
  EXPECT_FALSE(Has(*args, "-m")) << absl::StrJoin(*args, " ");
}

TEST(BuildEalArgsTest, FilePrefixIsPassed) {
  EalOptions options = Options({1}, {0, 1});
  options.file_prefix = "vhostd-test-42";
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(options);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(ValueOf(*args, "--file-prefix"), "vhostd-test-42");
}

TEST(BuildEalArgsTest, ExtraArgsAreSplitAndAppendedLast) {
  EalOptions options = Options({1}, {0, 1});
  options.hugepages_available = false;
  options.extra_args = "  --log-level=lib.eal:debug   --in-memory ";
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(options);
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_GE(args->size(), 2u);
  EXPECT_EQ((*args)[args->size() - 2], "--log-level=lib.eal:debug");
  EXPECT_EQ((*args)[args->size() - 1], "--in-memory");
  // No empty arguments from the extra spaces.
  EXPECT_FALSE(Has(*args, ""));
}

TEST(BuildEalArgsTest, NoExtraArgsAddsNothing) {
  EalOptions options = Options({1}, {0, 1});
  options.hugepages_available = true;
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(options);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->back(), "va");
  EXPECT_FALSE(Has(*args, ""));
}

TEST(BuildEalArgsTest, PollCpuNotOnlineIsAnError) {
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(Options({1, 5}, {0, 1, 2, 3}));
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(args.status().message()), StartsWith("cores: "));
  EXPECT_THAT(std::string(args.status().message()), HasSubstr("CPU 5"));
}

TEST(BuildEalArgsTest, NoPollCpuIsAnError) {
  absl::StatusOr<std::vector<std::string>> args = BuildEalArgs(Options({}, {0, 1}));
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(args.status().message()), StartsWith("cores: "));
}

}  // namespace
}  // namespace vhostd
