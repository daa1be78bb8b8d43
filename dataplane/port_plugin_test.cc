#include "dataplane/port_plugin.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kField[] = "queues";

// What NormalizeQueueCount needs of a spec: proto3's `optional uint32 queues`.
class QueuesSpec {
 public:
  bool has_queues() const { return has_; }
  uint32_t queues() const { return queues_; }
  void set_queues(uint32_t queues) {
    has_ = true;
    queues_ = queues;
  }

 private:
  bool has_ = false;
  uint32_t queues_ = 0;
};

TEST(NormalizeQueueCountTest, UnsetBecomesOne) {
  QueuesSpec spec;
  ASSERT_FALSE(spec.has_queues());
  absl::Status status = NormalizeQueueCount(spec, kField);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(spec.has_queues());
  EXPECT_EQ(spec.queues(), 1u);
}

TEST(NormalizeQueueCountTest, ZeroIsInvalidArgumentNamingTheField) {
  QueuesSpec spec;
  spec.set_queues(0);
  absl::Status status = NormalizeQueueCount(spec, kField);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith("queues: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("0 is out of range 1..16"));
  EXPECT_EQ(spec.queues(), 0u);  // an explicit value is not replaced by the default
}

TEST(NormalizeQueueCountTest, InRangeValuesAreKept) {
  for (uint32_t queues : {1u, 2u, 8u, kMaxQueues}) {
    QueuesSpec spec;
    spec.set_queues(queues);
    absl::Status status = NormalizeQueueCount(spec, kField);
    EXPECT_TRUE(status.ok()) << queues << ": " << status;
    EXPECT_EQ(spec.queues(), queues);
  }
}

TEST(NormalizeQueueCountTest, SixteenIsTheMaximum) {
  EXPECT_EQ(kMaxQueues, 16u);
  QueuesSpec spec;
  spec.set_queues(16);
  EXPECT_TRUE(NormalizeQueueCount(spec, kField).ok());
}

TEST(NormalizeQueueCountTest, AboveSixteenIsRejected) {
  for (uint32_t queues : {17u, 64u, 0xffffffffu}) {
    QueuesSpec spec;
    spec.set_queues(queues);
    absl::Status status = NormalizeQueueCount(spec, kField);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << queues;
    EXPECT_THAT(std::string(status.message()), StartsWith("queues: " + std::to_string(queues) + " "));
  }
}

TEST(NormalizeQueueCountTest, UsesTheGivenFieldName) {
  QueuesSpec spec;
  spec.set_queues(17);
  absl::Status status = NormalizeQueueCount(spec, "spec.q");
  EXPECT_THAT(std::string(status.message()), StartsWith("spec.q: 17 is out of range"));
}

}  // namespace
}  // namespace vhostd
