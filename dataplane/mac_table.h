// A bridge's MAC learning table: (MAC, VLAN) -> bridge port, with aging and a bound.
//
// Several polling cores learn and look up at once (a bridge's receive queues may run
// on different cores) while the control thread ages, flushes and lists entries, so the
// table takes no lock and never allocates after construction: fixed buckets of eight
// slots, each slot two 64-bit atomic words (key, value) that carry the same 4-bit
// generation. A slot changes hands only by compare-and-swap, and a reader accepts a
// value only if its generation matches the key it read, so it never pairs one MAC with
// another's port. Aging is by timestamp: an entry older than the aging time is treated
// as absent at once and its slot reused or reclaimed later; nothing is ever freed.
// Time is passed in (milliseconds of any monotonic clock), so tests inject it.
#ifndef VHOSTD_DATAPLANE_MAC_TABLE_H_
#define VHOSTD_DATAPLANE_MAC_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace vhostd {

// A MAC address as its six bytes in network order, big-endian in the low 48 bits.
using MacAddress = uint64_t;

struct MacEntry {
  MacAddress mac;
  uint16_t vlan;  // 0: untagged traffic of ports without VLAN configuration
  uint16_t port;  // the bridge's port slot
  uint64_t age_ms;
};

class MacTable {
 public:
  static constexpr uint16_t kMaxVlan = 4094;
  static constexpr uint16_t kMaxPort = 0xffe;  // port slots are 0..kMaxPort
  static constexpr uint32_t kSlotsPerBucket = 8;

  // Room for `max_entries` entries (>= 1); entries unseen for `aging_ms` are gone.
  MacTable(uint32_t max_entries, uint64_t aging_ms);

  enum class Learned { kKnown, kNew, kMoved, kFull };
  // Records that `mac` (not multicast) on `vlan` was seen on `port` at `now_ms`. kNew:
  // it was not in the table (or had aged out); kMoved: it was on another port; kFull:
  // there was no room for it, so it stays unknown. Polling cores; lock-free.
  Learned Learn(MacAddress mac, uint16_t vlan, uint16_t port, uint64_t now_ms);
  // The port `mac` on `vlan` was last seen on, or -1 if unknown. Lock-free, no writes.
  int Lookup(MacAddress mac, uint16_t vlan, uint64_t now_ms) const;

  // Control thread: frees the slots of aged entries (and of duplicates a learning race
  // left); returns how many entries it removed.
  size_t Sweep(uint64_t now_ms);
  // Control thread: forgets every entry on `port` (it left the bridge).
  size_t FlushPort(uint16_t port);
  // The live entries, by bucket order.
  std::vector<MacEntry> Entries(uint64_t now_ms) const;

  // Occupied slots, aged ones not yet reclaimed included; never above max_entries().
  uint32_t occupied() const { return occupied_.load(std::memory_order_relaxed); }
  uint32_t max_entries() const { return max_entries_; }
  uint64_t aging_ms() const { return aging_ms_; }

 private:
  struct alignas(64) Bucket {
    std::atomic<uint64_t> keys[kSlotsPerBucket];    // one cache line scanned per lookup
    std::atomic<uint64_t> values[kSlotsPerBucket];  // the next one, read on a match
  };
  // A slot, when a learner or the sweeper takes it: see TakeSlot.
  bool TakeSlot(Bucket& bucket, uint32_t slot, uint64_t key, uint64_t value, uint64_t new_key);
  bool Live(uint64_t key, uint64_t value, uint64_t now_ms) const;
  Bucket& BucketOf(MacAddress mac, uint16_t vlan) const;
  // Counts one more occupied slot, unless the table is at its bound.
  bool Reserve();
  // Claims a free or expired slot of `bucket` for `key`; false if there is none.
  bool Insert(Bucket& bucket, uint64_t key, uint16_t port, uint64_t now_ms);

  const uint32_t max_entries_;
  const uint64_t aging_ms_;
  const uint64_t refresh_ms_;  // a hit older than this rewrites its timestamp
  const uint64_t bucket_mask_;
  std::unique_ptr<Bucket[]> buckets_;
  std::atomic<uint32_t> occupied_{0};
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_MAC_TABLE_H_
