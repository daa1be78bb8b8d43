#include "plugins/vhost_user/fd_slots.h"

#include "gtest/gtest.h"

namespace vhostd {
namespace {

TEST(FdSlotsTest, RefusesWhatDoesNotFitAndTakesItAfterARelease) {
  FdSlots slots(7);
  ASSERT_TRUE(slots.Reserve(FdSlots::PerSocket(false)).ok());
  ASSERT_TRUE(slots.Reserve(FdSlots::PerSocket(false)).ok());
  EXPECT_EQ(slots.used(), 6);
  const absl::Status full = slots.Reserve(FdSlots::PerSocket(false));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("socket_path: no room in lib/vhost's descriptor set (6 of 7"), absl::string_view::npos)
      << full.message();
  EXPECT_EQ(slots.used(), 6);  // a refusal takes nothing
  EXPECT_TRUE(slots.Reserve(FdSlots::PerSocket(true)).ok());
  slots.Release(FdSlots::PerSocket(false));
  EXPECT_TRUE(slots.Reserve(FdSlots::PerSocket(false)).ok());
  EXPECT_EQ(slots.used(), 7);
}

TEST(FdSlotsTest, LibVhostCapacityHoldsThreeHundredAndFortyServerPorts) {
  FdSlots slots(FdSlots::kLibVhostSlots);
  int ports = 0;
  while (slots.Reserve(FdSlots::PerSocket(false)).ok()) ++ports;
  EXPECT_EQ(ports, 341);
}

}  // namespace
}  // namespace vhostd
