// The MAC table's rules with an injected clock, and its invariants under concurrent
// learners, lookups and a sweeper. Worth running under ThreadSanitizer too (the table
// is plain C++ atomics, so nothing needs suppressing), in an output base of its own:
//   bazel --output_base=/tmp/vhostd-tsan test --copt=-fsanitize=thread
//     --linkopt=-fsanitize=thread //dataplane:mac_table_test
#include "dataplane/mac_table.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vhostd {
namespace {

constexpr uint64_t kAging = 300'000;  // 300 s, the default
constexpr MacAddress kMacA = 0x02'00'00'00'00'0a;
constexpr MacAddress kMacB = 0x02'00'00'00'00'0b;

using Learned = MacTable::Learned;

TEST(MacTableTest, LearnsAndLooksUpPerVlan) {
  MacTable table(16, kAging);
  EXPECT_EQ(table.Lookup(kMacA, 10, 0), -1);
  EXPECT_EQ(table.Learn(kMacA, 10, 3, 0), Learned::kNew);
  EXPECT_EQ(table.Lookup(kMacA, 10, 1), 3);
  EXPECT_EQ(table.Lookup(kMacA, 20, 1), -1) << "VLANs are separate tables";
  EXPECT_EQ(table.Lookup(kMacB, 10, 1), -1);
  EXPECT_EQ(table.Learn(kMacA, 10, 3, 5), Learned::kKnown);
  EXPECT_EQ(table.Learn(kMacA, 20, 4, 5), Learned::kNew);
  EXPECT_EQ(table.Lookup(kMacA, 20, 6), 4);
  EXPECT_EQ(table.Learn(kMacA, 0, 1, 5), Learned::kNew) << "VLAN 0 (untagged) is a VLAN like the others";
  EXPECT_EQ(table.Lookup(kMacA, 0, 6), 1);
  EXPECT_EQ(table.occupied(), 3u);
}

TEST(MacTableTest, MoveToAnotherPortTakesEffectAtOnce) {
  MacTable table(16, kAging);
  table.Learn(kMacA, 1, 0, 0);
  EXPECT_EQ(table.Learn(kMacA, 1, 2, 1), Learned::kMoved);
  EXPECT_EQ(table.Lookup(kMacA, 1, 1), 2);
  EXPECT_EQ(table.occupied(), 1u) << "a move reuses the entry";
  EXPECT_EQ(table.Learn(kMacA, 1, 0, 2), Learned::kMoved);
  EXPECT_EQ(table.Lookup(kMacA, 1, 2), 0);
}

TEST(MacTableTest, EntriesAgeOutAndRefreshWhenSeen) {
  MacTable table(16, kAging);
  table.Learn(kMacA, 1, 0, 1000);
  table.Learn(kMacB, 1, 1, 1000);
  EXPECT_EQ(table.Lookup(kMacA, 1, 1000 + kAging - 1), 0);
  // Seen again at 200 s: lives until 500 s.
  EXPECT_EQ(table.Learn(kMacA, 1, 0, 200'000), Learned::kKnown);
  EXPECT_EQ(table.Lookup(kMacB, 1, 1000 + kAging), -1) << "B was not seen for the aging time";
  EXPECT_EQ(table.Lookup(kMacA, 1, 1000 + kAging), 0);
  EXPECT_EQ(table.Lookup(kMacA, 1, 200'000 + kAging), -1);
  EXPECT_EQ(table.occupied(), 2u) << "aged entries hold their slot until a sweep";
  EXPECT_EQ(table.Sweep(200'000 + kAging), 2u);
  EXPECT_EQ(table.occupied(), 0u);
  // An address that aged out is new when it comes back.
  EXPECT_EQ(table.Learn(kMacB, 1, 1, 600'000), Learned::kNew);
  EXPECT_EQ(table.Lookup(kMacB, 1, 600'000), 1);
}

TEST(MacTableTest, ExpiredEntryComesBackAsNewWithoutSweep) {
  MacTable table(16, 1000);
  table.Learn(kMacA, 1, 0, 0);
  EXPECT_EQ(table.Learn(kMacA, 1, 0, 1000), Learned::kNew);
  EXPECT_EQ(table.occupied(), 1u);
  EXPECT_EQ(table.Lookup(kMacA, 1, 1500), 0);
}

TEST(MacTableTest, FullTableRefusesNewAddressesAndKeepsTheOld) {
  MacTable table(4, kAging);
  for (MacAddress m = 1; m <= 4; ++m) EXPECT_EQ(table.Learn(m << 8, 1, 0, 0), Learned::kNew);
  EXPECT_EQ(table.Learn(5 << 8, 1, 1, 0), Learned::kFull);
  EXPECT_EQ(table.Lookup(5 << 8, 1, 0), -1);
  EXPECT_EQ(table.occupied(), 4u);
  for (MacAddress m = 1; m <= 4; ++m) EXPECT_EQ(table.Lookup(m << 8, 1, 0), 0);
  // Known addresses still move while full.
  EXPECT_EQ(table.Learn(2 << 8, 1, 3, 1), Learned::kMoved);
  // Once one entry expires, its slot takes the new address (no sweep needed).
  for (MacAddress m = 2; m <= 4; ++m) table.Learn(m << 8, 1, 0, kAging / 2);
  EXPECT_EQ(table.Learn(5 << 8, 1, 1, kAging), Learned::kNew);
  EXPECT_EQ(table.Lookup(5 << 8, 1, kAging), 1);
  EXPECT_EQ(table.Lookup(1 << 8, 1, kAging), -1);
  EXPECT_EQ(table.occupied(), 4u);
}

TEST(MacTableTest, ManyAddressesUpToTheBound) {
  constexpr uint32_t kMax = 2048;
  MacTable table(kMax, kAging);
  uint32_t learned = 0, full = 0;
  for (MacAddress m = 0; m < 4 * kMax; ++m) {
    const Learned r = table.Learn(0x020000000000 | m, 7, static_cast<uint16_t>(m % 5), 0);
    learned += r == Learned::kNew;
    full += r == Learned::kFull;
  }
  EXPECT_EQ(learned, kMax) << "every slot up to the bound is used, whatever the hash spread";
  EXPECT_EQ(full, 3 * kMax);
  EXPECT_EQ(table.occupied(), kMax);
  EXPECT_EQ(table.Entries(0).size(), kMax);
}

TEST(MacTableTest, FlushPortForgetsOnlyThatPort) {
  MacTable table(16, kAging);
  table.Learn(kMacA, 1, 0, 0);
  table.Learn(kMacB, 1, 1, 0);
  table.Learn(kMacB, 2, 1, 0);
  EXPECT_EQ(table.FlushPort(1), 2u);
  EXPECT_EQ(table.Lookup(kMacB, 1, 0), -1);
  EXPECT_EQ(table.Lookup(kMacB, 2, 0), -1);
  EXPECT_EQ(table.Lookup(kMacA, 1, 0), 0);
  EXPECT_EQ(table.occupied(), 1u);
}

TEST(MacTableTest, EntriesListAddressVlanPortAndAge) {
  MacTable table(16, kAging);
  table.Learn(kMacA, 10, 2, 1000);
  table.Learn(kMacB, 0, 1, 4000);
  std::vector<MacEntry> entries = table.Entries(5000);
  ASSERT_EQ(entries.size(), 2u);
  std::sort(entries.begin(), entries.end(), [](const MacEntry& a, const MacEntry& b) { return a.mac < b.mac; });
  EXPECT_EQ(entries[0].mac, kMacA);
  EXPECT_EQ(entries[0].vlan, 10);
  EXPECT_EQ(entries[0].port, 2);
  EXPECT_EQ(entries[0].age_ms, 4000u);
  EXPECT_EQ(entries[1].mac, kMacB);
  EXPECT_EQ(entries[1].vlan, 0);
  EXPECT_EQ(entries[1].age_ms, 1000u);
  EXPECT_EQ(table.Entries(1000 + kAging).size(), 1u);
}

TEST(MacTableTest, TopVlanAndAllMacBits) {
  MacTable table(16, kAging);
  const MacAddress all_ones = 0xfeffffffffff;  // unicast, every other bit set
  table.Learn(all_ones, MacTable::kMaxVlan, MacTable::kMaxPort, 0);
  EXPECT_EQ(table.Lookup(all_ones, MacTable::kMaxVlan, 0), MacTable::kMaxPort);
  EXPECT_EQ(table.Lookup(all_ones, MacTable::kMaxVlan - 1, 0), -1);
  EXPECT_EQ(table.Entries(0).at(0).mac, all_ones);
}

// Several cores learn the same addresses on their own ports (a multi-queue guest sends
// one source address on several queues, and addresses move) while others look up and
// the control thread sweeps: the bound holds, lookups only ever see ports that were
// learned for that address, and once the learners stop one entry per address remains.
TEST(MacTableTest, ConcurrentLearnersLookupsAndSweeps) {
  constexpr uint32_t kAddresses = 600;
  constexpr uint32_t kMax = 512;  // fewer than the addresses: the table fills up too
  constexpr int kLearners = 4;
  MacTable table(kMax, 50);
  std::atomic<uint64_t> clock{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad_lookups{0}, over_bound{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kLearners; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (uint32_t a = 0; a < kAddresses; ++a) {
          // A port per (address, learner): a lookup can tell whose port it got.
          table.Learn(0x020000000000 | a, a % 3, static_cast<uint16_t>(a * kLearners + t),
                      clock.load(std::memory_order_relaxed));
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      for (uint32_t a = 0; a < kAddresses; ++a) {
        const int port = table.Lookup(0x020000000000 | a, a % 3, clock.load(std::memory_order_relaxed));
        if (port != -1 && static_cast<uint32_t>(port) / kLearners != a) bad_lookups.fetch_add(1);
        // The wrong VLAN never matches: nothing is learned there.
        if (table.Lookup(0x020000000000 | a, 3, clock.load()) != -1) bad_lookups.fetch_add(1);
      }
    }
  });
  threads.emplace_back([&] {
    while (!stop.load()) {
      clock.fetch_add(1);
      table.Sweep(clock.load());
      if (table.occupied() > kMax) over_bound.fetch_add(1);
    }
  });
  for (int t = 0; t < kLearners; ++t) threads[t].join();
  stop.store(true);
  threads[kLearners].join();
  threads[kLearners + 1].join();
  EXPECT_EQ(bad_lookups.load(), 0u);
  EXPECT_EQ(over_bound.load(), 0u);
  EXPECT_LE(table.occupied(), kMax);

  // Quiet now: learn everything once more at one instant, sweep the duplicates.
  const uint64_t now = clock.load() + 1000;
  table.Sweep(now);  // everything has aged out
  EXPECT_EQ(table.occupied(), 0u);
  uint32_t learned = 0;
  for (uint32_t a = 0; a < kMax; ++a) learned += table.Learn(0x020000000000 | a, a % 3, 1, now) == Learned::kNew;
  EXPECT_GT(learned, kMax * 9 / 10);  // a few may find their bucket full
  table.Sweep(now);
  const std::vector<MacEntry> entries = table.Entries(now);
  std::set<std::pair<MacAddress, uint16_t>> distinct;
  for (const MacEntry& e : entries) distinct.insert({e.mac, e.vlan});
  EXPECT_EQ(distinct.size(), entries.size());
  EXPECT_EQ(entries.size(), learned);
  EXPECT_EQ(table.occupied(), learned);
}

}  // namespace
}  // namespace vhostd
