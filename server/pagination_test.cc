#include "server/pagination.h"

#include <climits>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

TEST(ResolvePageTest, ZeroMeansDefault) {
  absl::StatusOr<Page> page = ResolvePage(0, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->limit, 100u);
  EXPECT_EQ(page->start_after, "");
}

TEST(ResolvePageTest, SizesUpToTheMaximumAreKept) {
  EXPECT_EQ(ResolvePage(1, "")->limit, 1u);
  EXPECT_EQ(ResolvePage(250, "")->limit, 250u);
  EXPECT_EQ(ResolvePage(1000, "")->limit, 1000u);
}

TEST(ResolvePageTest, LargerSizesAreCapped) {
  EXPECT_EQ(ResolvePage(1001, "")->limit, 1000u);
  EXPECT_EQ(ResolvePage(INT_MAX, "")->limit, 1000u);
}

TEST(ResolvePageTest, NegativeSizeIsInvalid) {
  for (int size : {-1, -100, INT_MIN}) {
    absl::StatusOr<Page> page = ResolvePage(size, "");
    ASSERT_FALSE(page.ok()) << size;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(page.status().message()), StartsWith("page_size: "));
  }
}

TEST(ResolvePageTest, TokenRoundTrip) {
  for (const std::string& name : {std::string("a"), std::string("vm-1"), std::string(63, 'z')}) {
    absl::StatusOr<Page> page = ResolvePage(5, EncodePageToken(name));
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->start_after, name);
    EXPECT_EQ(page->limit, 5u);
  }
}

TEST(ResolvePageTest, TokenIsOpaqueNotTheName) {
  EXPECT_NE(EncodePageToken("vm-1"), "vm-1");
  EXPECT_TRUE(ResolvePage(0, "vm-1").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST(ResolvePageTest, BadTokensAreInvalid) {
  for (const std::string& token : {std::string("!!!"), std::string("not a token"),
                                  absl::WebSafeBase64Escape("before:vm-1"), absl::WebSafeBase64Escape("vm-1"),
                                  std::string("%%%%")}) {
    absl::StatusOr<Page> page = ResolvePage(0, token);
    ASSERT_FALSE(page.ok()) << "token \"" << token << "\" accepted";
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(page.status().message()), StartsWith("page_token: "));
  }
}

std::map<std::string, int> Items(int n) {
  std::map<std::string, int> items;
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "item-%03d", i);
    items[name] = i;
  }
  return items;
}

// Walks all pages; returns the page sizes and checks that the items come in order, once.
std::vector<size_t> Walk(const std::map<std::string, int>& items, int page_size) {
  std::vector<size_t> sizes;
  std::string token;
  int expected = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    absl::StatusOr<Page> page = ResolvePage(page_size, token);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    std::vector<const int*> got = TakePage(items, *page, &token);
    sizes.push_back(got.size());
    for (const int* value : got) EXPECT_EQ(*value, expected++);
    if (token.empty()) break;
  }
  EXPECT_EQ(expected, static_cast<int>(items.size())) << "not every item was returned";
  return sizes;
}

TEST(TakePageTest, WalksInPagesOfTheRequestedSize) {
  EXPECT_EQ(Walk(Items(250), 100), (std::vector<size_t>{100, 100, 50}));
}

TEST(TakePageTest, DefaultPageSize) { EXPECT_EQ(Walk(Items(250), 0), (std::vector<size_t>{100, 100, 50})); }

TEST(TakePageTest, ExactMultipleHasNoEmptyTrailingPage) {
  EXPECT_EQ(Walk(Items(200), 100), (std::vector<size_t>{100, 100}));
}

TEST(TakePageTest, SinglePageHasNoToken) {
  const auto items = Items(5);
  std::string token = "stale";
  std::vector<const int*> got = TakePage(items, *ResolvePage(0, ""), &token);
  EXPECT_THAT(got, SizeIs(5));
  EXPECT_EQ(token, "");
}

TEST(TakePageTest, EmptyCollection) {
  std::map<std::string, int> items;
  std::string token = "stale";
  EXPECT_THAT(TakePage(items, *ResolvePage(10, ""), &token), IsEmpty());
  EXPECT_EQ(token, "");
}

TEST(TakePageTest, FirstPageTokenNamesTheLastItem) {
  const auto items = Items(250);
  std::string token;
  std::vector<const int*> got = TakePage(items, *ResolvePage(100, ""), &token);
  ASSERT_THAT(got, SizeIs(100));
  EXPECT_EQ(token, EncodePageToken("item-099"));
}

TEST(TakePageTest, ContinuesAfterTheTokenEvenIfThatItemWasDeleted) {
  auto items = Items(10);
  std::string token;
  TakePage(items, *ResolvePage(3, ""), &token);  // item-000..002
  items.erase("item-002");
  items.erase("item-003");
  std::vector<const int*> got = TakePage(items, *ResolvePage(3, token), &token);
  ASSERT_THAT(got, SizeIs(3));
  EXPECT_EQ(*got[0], 4);
  EXPECT_EQ(*got[2], 6);
}

TEST(TakePageTest, TokenPastTheEndGivesEmptyPage) {
  const auto items = Items(3);
  std::string token = "stale";
  EXPECT_THAT(TakePage(items, *ResolvePage(3, EncodePageToken("zzz")), &token), IsEmpty());
  EXPECT_EQ(token, "");
}

}  // namespace
}  // namespace vhostd
