#include "server/label_selector.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Op = LabelRequirement::Op;

LabelMap Pod(const std::string& name, const std::string& ns) {
  LabelMap labels;
  labels["k8s.pod.name"] = name;
  labels["k8s.pod.namespace"] = ns;
  return labels;
}

bool Selects(const std::string& selector, const LabelMap& labels) {
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector, "label_selector");
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(labels);
}

TEST(LabelSelectorTest, ParsesEveryForm) {
  absl::StatusOr<LabelSelector> parsed =
      LabelSelector::Parse(" a=1, b==2 ,c!=3, d , !e, example.com/f=", "label_selector");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<LabelRequirement>& r = parsed->requirements();
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].key, "a");
  EXPECT_EQ(r[0].op, Op::kEquals);
  EXPECT_EQ(r[0].value, "1");
  EXPECT_EQ(r[1].key, "b");
  EXPECT_EQ(r[1].op, Op::kEquals);
  EXPECT_EQ(r[1].value, "2");
  EXPECT_EQ(r[2].key, "c");
  EXPECT_EQ(r[2].op, Op::kNotEquals);
  EXPECT_EQ(r[2].value, "3");
  EXPECT_EQ(r[3].key, "d");
  EXPECT_EQ(r[3].op, Op::kExists);
  EXPECT_EQ(r[4].key, "e");
  EXPECT_EQ(r[4].op, Op::kNotExists);
  EXPECT_EQ(r[5].key, "example.com/f");
  EXPECT_EQ(r[5].op, Op::kEquals);
  EXPECT_EQ(r[5].value, "");
}

TEST(LabelSelectorTest, EmptyMatchesEverything) {
  EXPECT_TRUE(Selects("", LabelMap()));
  EXPECT_TRUE(Selects("  ", Pod("web-0", "prod")));
}

TEST(LabelSelectorTest, AllTermsMustHold) {
  const LabelMap web = Pod("web-0", "prod");
  EXPECT_TRUE(Selects("k8s.pod.name=web-0", web));
  EXPECT_TRUE(Selects("k8s.pod.name=web-0,k8s.pod.namespace=prod", web));
  EXPECT_FALSE(Selects("k8s.pod.name=web-0,k8s.pod.namespace=dev", web));
  EXPECT_FALSE(Selects("k8s.pod.name=web-1", web));
  EXPECT_TRUE(Selects("k8s.pod.namespace!=dev", web));
  EXPECT_FALSE(Selects("k8s.pod.namespace!=prod", web));
  EXPECT_TRUE(Selects("absent!=x", web));  // as in Kubernetes
  EXPECT_TRUE(Selects("k8s.pod.name", web));
  EXPECT_FALSE(Selects("cni.ifname", web));
  EXPECT_TRUE(Selects("!cni.ifname", web));
  EXPECT_FALSE(Selects("!k8s.pod.name", web));
  EXPECT_FALSE(Selects("k8s.pod.name=", web));
  LabelMap empty_value;
  empty_value["tier"] = "";
  EXPECT_TRUE(Selects("tier=", empty_value));
  EXPECT_TRUE(Selects("tier", empty_value));
}

void ExpectMalformed(const std::string& selector, const std::string& message_part) {
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector, "label_selector");
  ASSERT_FALSE(parsed.ok()) << "\"" << selector << "\" accepted";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith("label_selector: ")) << selector;
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(message_part)) << selector;
}

TEST(LabelSelectorTest, RefusesMalformedTermsNamingThem) {
  ExpectMalformed("a=1,,b=2", "term 2 \"\": is empty");
  ExpectMalformed("a=1,", "term 2");
  ExpectMalformed(",a", "term 1");
  ExpectMalformed("=1", "term 1 \"=1\": the key is empty");
  ExpectMalformed("a b=1", "the key's name");
  ExpectMalformed("a=b=c", "the value");
  ExpectMalformed("a in (b,c)", "term 1");
  ExpectMalformed("a>1", "term 1");
  ExpectMalformed("!", "the key is empty");
  ExpectMalformed("!=x", "the key is empty");
  ExpectMalformed("a=" + std::string(64, 'v'), "at most 63");
  ExpectMalformed("a=\"x\"", "\\\"x\\\"");  // quotes escaped in the message
}

TEST(LabelSelectorTest, BoundsLengthAndQuotes) {
  ExpectMalformed(std::string(kMaxLabelSelectorLength + 1, 'a'), "4097 characters; at most 4096");
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(std::string(4000, '-'), "label_selector");
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.status().message().size(), 400u);
}

}  // namespace
}  // namespace vhostd
