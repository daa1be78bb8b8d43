#include "server/port_labels.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

LabelMap One(const std::string& key, const std::string& value) {
  LabelMap labels;
  labels[key] = value;
  return labels;
}

absl::Status Check(const std::string& key, const std::string& value) {
  return ValidateLabels(One(key, value), "port.labels");
}

TEST(PortLabelsTest, AcceptsKubernetesStyleKeysAndValues) {
  for (const char* key : {"a", "k8s.pod.name", "cni.container_id", "A_b-c.D", "example.com/tier",
                          "kubernetes.io/pod-name", "a-b.c/x", "x/Y.z"}) {
    EXPECT_TRUE(Check(key, "v").ok()) << key << ": " << Check(key, "v");
  }
  for (const char* value : {"", "v", "web-0", "A.b_c-9", "0"}) {
    EXPECT_TRUE(Check("app", value).ok()) << "\"" << value << "\": " << Check("app", value);
  }
  EXPECT_TRUE(Check(std::string(63, 'k'), std::string(63, 'v')).ok());
  const std::string label63(63, 'p');
  const std::string prefix253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'q');
  ASSERT_EQ(prefix253.size(), 253u);
  EXPECT_TRUE(Check(prefix253 + "/" + std::string(63, 'n'), "v").ok());
  EXPECT_FALSE(Check(prefix253 + "q/n", "v").ok());
  EXPECT_FALSE(Check(std::string(64, 'p') + "/n", "v").ok());  // a DNS label is at most 63
  EXPECT_TRUE(ValidateLabels(LabelMap(), "port.labels").ok());
}

TEST(PortLabelsTest, RefusesBadKeysNamingThem) {
  for (const std::string& key :
       {std::string(""), std::string("-a"), std::string("a-"), std::string("a b"), std::string("a/b/c"),
        std::string("/a"), std::string("a/"), std::string("Upper.Case/x"), std::string("a..b/x"),
        std::string("-x.com/y"), std::string(64, 'k'), std::string(254, 'p') + "/n", std::string("ü"),
        std::string("a\"b"), std::string("a=b")}) {
    absl::Status status = Check(key, "v");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "\"" << key << "\" accepted";
    EXPECT_THAT(std::string(status.message()), StartsWith("port.labels[\"")) << key;
  }
  EXPECT_THAT(std::string(Check("a b", "v").message()), StartsWith("port.labels[\"a b\"]: the key's name"));
  // A quote in the key is escaped, so the field name stays one quoted string.
  EXPECT_THAT(std::string(Check("a\"b", "v").message()), StartsWith("port.labels[\"a\\\"b\"]: "));
}

TEST(PortLabelsTest, RefusesBadValues) {
  for (const std::string& value : {std::string(64, 'v'), std::string("-v"), std::string("v "), std::string("a,b"),
                                   std::string("a=b"), std::string("ü")}) {
    absl::Status status = Check("app", value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "\"" << value << "\" accepted";
    EXPECT_THAT(std::string(status.message()), StartsWith("port.labels[\"app\"]: the value")) << value;
  }
  EXPECT_THAT(std::string(Check("app", std::string(64, 'v')).message()), HasSubstr("64 characters; at most 63"));
}

TEST(PortLabelsTest, QuotesLongInputBounded) {
  const std::string key(10000, 'k');
  const std::string message(Check(key, "v").message());
  EXPECT_LT(message.size(), 400u) << message;
  EXPECT_THAT(message, HasSubstr("...\"]"));
  const std::string value(10000, '-');
  EXPECT_LT(Check("app", value).message().size(), 400u);
}

TEST(PortLabelsTest, AtMost64Labels) {
  LabelMap labels;
  for (int i = 0; i < 64; ++i) labels["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(ValidateLabels(labels, "port.labels").ok());
  labels["one-more"] = "v";
  absl::Status status = ValidateLabels(labels, "port.labels");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "port.labels: 65 labels; at most 64");
}

TEST(PortLabelsTest, ReportsTheFirstBadKeyInOrder) {
  LabelMap labels;
  labels["z z"] = "v";
  labels["b b"] = "v";
  labels["a"] = "ok";
  EXPECT_THAT(std::string(ValidateLabels(labels, "port.labels").message()), StartsWith("port.labels[\"b b\"]"));
}

TEST(PortLabelsTest, InfoMetricLabelKeysAreValidAndDistinct) {
  std::set<std::string> metric_labels;
  for (const InfoMetricLabel& label : kInfoMetricLabels) {
    EXPECT_EQ(LabelKeyProblem(label.key), "") << label.key;
    EXPECT_TRUE(metric_labels.insert(label.metric_label).second) << label.metric_label;
    EXPECT_NE(std::string(label.metric_label), "port");
    EXPECT_NE(std::string(label.metric_label), "type");
  }
}

}  // namespace
}  // namespace vhostd
