#include "plugins/vhost_user/mem_table_check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kMiB = 1 << 20;

class MemTableCheckTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int i = 0; i < msg_.fd_num; ++i) close(msg_.fds[i]);
  }

  // Appends a region backed by a new memfd of `file_size` bytes.
  void AddRegion(uint64_t gpa, uint64_t size, uint64_t file_size, uint64_t mmap_offset = 0, unsigned seals = 0) {
    const int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, file_size), 0);
    if (seals) {
      EXPECT_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
    }
    const uint32_t i = msg_.payload.memory.nregions++;
    msg_.fds[msg_.fd_num++] = fd;
    msg_.size = 8 + 32 * msg_.payload.memory.nregions;
    msg_.payload.memory.regions[i] = {gpa, size, 0x7f0000000000 + gpa, mmap_offset};
  }

  vhostd_vhost_msg msg_ = [] {
    vhostd_vhost_msg m;
    memset(&m, 0, sizeof(m));
    m.request = VHOSTD_VHOST_USER_SET_MEM_TABLE;
    m.size = 8;
    return m;
  }();
};

TEST_F(MemTableCheckTest, AcceptsRegionsInsideTheirFilesAndCountsSeals) {
  AddRegion(0, 2 * kMiB, 2 * kMiB);
  AddRegion(4 * kMiB, kMiB, 2 * kMiB, kMiB, F_SEAL_SHRINK | F_SEAL_GROW);
  const MemTableCheck check = CheckMemTable(msg_);
  EXPECT_THAT(check.refusal, IsEmpty());
  EXPECT_EQ(check.regions, 2u);
  EXPECT_EQ(check.shrink_sealed, 1u);
}

TEST_F(MemTableCheckTest, RefusesARegionLargerThanItsFile) {
  AddRegion(0, 2 * kMiB, 4096);
  EXPECT_THAT(CheckMemTable(msg_).refusal,
              HasSubstr("region 0: mmap_offset + memory_size is 0x200000 bytes, its file has only 0x1000"));
}

TEST_F(MemTableCheckTest, RefusesAnOffsetThatPushesTheRegionPastTheFile) {
  AddRegion(0, kMiB, kMiB, 4096);
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("region 0: mmap_offset + memory_size is 0x101000"));
}

TEST_F(MemTableCheckTest, RefusesSizeZeroAndOverflows) {
  AddRegion(0, 0, kMiB);
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("region 0: memory_size is 0"));
  msg_.payload.memory.regions[0].memory_size = kMiB;
  msg_.payload.memory.regions[0].mmap_offset = ~0ull - 10;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("overflows"));
  msg_.payload.memory.regions[0].mmap_offset = 0;
  msg_.payload.memory.regions[0].guest_phys_addr = ~0ull - 10;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("guest address + memory_size 0x100000 overflows"));
}

TEST_F(MemTableCheckTest, RefusesAbsurdCountsAndPayloadsThatLie) {
  AddRegion(0, kMiB, kMiB);
  msg_.payload.memory.nregions = 9;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("9 regions, at most 8"));
  msg_.payload.memory.nregions = 0xffffffff;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("4294967295 regions, at most 8"));
  msg_.payload.memory.nregions = 2;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("payload of 40 bytes is too short for 2 regions"));
  msg_.size = 8 + 64;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("2 regions but 1 file descriptors"));
  msg_.size = 4;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("no region count"));
}

TEST_F(MemTableCheckTest, RefusesOverlapsAndFilesThatAreNotRegular) {
  AddRegion(0, 2 * kMiB, 2 * kMiB);
  AddRegion(kMiB, kMiB, kMiB);
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("regions 0 and 1 overlap"));
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  close(msg_.fds[1]);
  msg_.fds[1] = pipe_fds[0];
  msg_.payload.memory.regions[1].guest_phys_addr = 8 * kMiB;
  EXPECT_THAT(CheckMemTable(msg_).refusal, HasSubstr("region 1: its file descriptor is not a regular file"));
  close(pipe_fds[1]);
}

}  // namespace
}  // namespace vhostd
