#include "plugins/vhost_user/guest_memory_guard.h"

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "plugins/vhost_user/guest_fault_watcher.h"

namespace vhostd {
namespace {

constexpr size_t kSize = 64 << 10;

// A shared mapping of a memfd, as lib/vhost maps guest memory.
struct MappedFile {
  MappedFile() {
    fd = memfd_create("guest", MFD_CLOEXEC);
    EXPECT_EQ(ftruncate(fd, kSize), 0);
    base = static_cast<volatile uint8_t*>(mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    EXPECT_NE(base, MAP_FAILED);
  }
  ~MappedFile() {
    munmap(const_cast<uint8_t*>(base), kSize);
    close(fd);
  }
  uintptr_t start() const { return reinterpret_cast<uintptr_t>(base); }
  int fd;
  volatile uint8_t* base;
};

class GuestMemoryGuardTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(guard_.Install().ok()); }
  GuestMemoryGuard& guard_ = GuestMemoryGuard::Get();
};

TEST_F(GuestMemoryGuardTest, AnAccessPastTheTruncatedEndReadsZerosAndIsCounted) {
  MappedFile file;
  const int owner = guard_.AddOwner();
  ASSERT_GE(owner, 0);
  ASSERT_TRUE(guard_.Register(owner, 7, file.start(), kSize, getpagesize()));
  file.base[0] = 1;
  file.base[kSize - 1] = 2;
  ASSERT_EQ(ftruncate(file.fd, 4096), 0);  // the frontend takes memory away
  EXPECT_EQ(file.base[0], 1);               // what it kept is still there
  EXPECT_EQ(file.base[8192], 0);            // SIGBUS, then zeros
  file.base[kSize - 1] = 3;                 // later pages were replaced too: no new fault
  EXPECT_EQ(file.base[kSize - 1], 3);
  EXPECT_EQ(guard_.TakeFaults(owner), 1u);
  EXPECT_EQ(guard_.TakeFaults(owner), 0u);
  pollfd wake = {guard_.wake_fd(), POLLIN, 0};
  EXPECT_EQ(poll(&wake, 1, 0), 1);
  uint64_t count;
  EXPECT_EQ(read(guard_.wake_fd(), &count, sizeof(count)), 8);
  guard_.RemoveOwner(owner);
}

TEST_F(GuestMemoryGuardTest, AFaultOutsideGuestMemoryStillKillsTheProcess) {
  EXPECT_EXIT(
      {
        MappedFile file;
        const int owner = guard_.AddOwner();
        guard_.Register(owner, 1, file.start(), 4096, getpagesize());  // only the first page
        ftruncate(file.fd, 0);
        (void)file.base[8192];
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

TEST_F(GuestMemoryGuardTest, UnregisteredMemoryIsNotGuardedAnyMore) {
  EXPECT_EXIT(
      {
        MappedFile file;
        const int owner = guard_.AddOwner();
        guard_.Register(owner, 1, file.start(), kSize, getpagesize());
        guard_.Unregister(owner, 1);
        ftruncate(file.fd, 0);
        (void)file.base[0];
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

TEST_F(GuestMemoryGuardTest, ASigbusSentByAnotherProcessIsNotSwallowed) {
  EXPECT_EXIT(kill(getpid(), SIGBUS), ::testing::KilledBySignal(SIGBUS), "");
}

TEST_F(GuestMemoryGuardTest, OwnersAndSlotsRunOutCleanly) {
  int owners[GuestMemoryGuard::kMaxOwners];
  int taken = 0;
  while (taken < GuestMemoryGuard::kMaxOwners && (owners[taken] = guard_.AddOwner()) >= 0) ++taken;
  EXPECT_EQ(guard_.AddOwner(), -1);
  for (int i = 0; i < taken; ++i) guard_.RemoveOwner(owners[i]);
  const int owner = guard_.AddOwner();
  int registered = 0;
  while (guard_.Register(owner, 0, 0x1000 + registered * 0x1000, 0x1000, 0x1000)) ++registered;
  EXPECT_EQ(registered, GuestMemoryGuard::kMaxSlots);
  guard_.RemoveOwner(owner);
  EXPECT_TRUE(guard_.Register(guard_.AddOwner(), 0, 0x1000, 0x1000, 0x1000));
  EXPECT_FALSE(guard_.Register(0, 0, 0x1000, 0x1000, 3));  // not a power of two
}

TEST_F(GuestMemoryGuardTest, TheWatcherHandsFaultsToTheirOwner) {
  MappedFile file;
  const int owner = guard_.AddOwner();
  ASSERT_TRUE(guard_.Register(owner, 3, file.start(), kSize, getpagesize()));
  std::atomic<uint64_t> seen{0};
  std::atomic<int> ticks{0};
  {
    GuestFaultWatcher watcher(guard_, absl::Milliseconds(10));
    watcher.Add(owner, [&](uint64_t faults) {
      seen += faults;
      ++ticks;
    });
    ftruncate(file.fd, 0);
    (void)file.base[100];
    for (int i = 0; i < 200 && seen.load() == 0; ++i) usleep(5000);
    watcher.Remove(owner);
  }
  EXPECT_EQ(seen.load(), 1u);
  EXPECT_GE(ticks.load(), 1);
  guard_.RemoveOwner(owner);
}

}  // namespace
}  // namespace vhostd
