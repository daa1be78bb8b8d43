#include "dataplane/mac_table.h"

#include <algorithm>

namespace vhostd {
namespace {

// key:   MAC (bits 0-47) | VLAN + 1 (48-59; 0 means the slot is empty) | generation (60-63)
// value: timestamp in ms (0-47) | port (48-59; kDead: no entry) | generation (60-63)
// The generation goes up each time a slot gets a new key, so a reader that read a key
// and then a value knows whether the value belongs to that key (a 16-step wrap within
// one read is not a concern: a reader holds a slot for nanoseconds).
constexpr uint64_t kMacBits = (uint64_t{1} << 48) - 1;
constexpr uint64_t kKeyBits = (uint64_t{1} << 60) - 1;  // MAC and VLAN
constexpr uint64_t kTimeBits = kMacBits;
constexpr int kFieldShift = 48;
constexpr int kGenShift = 60;
constexpr uint64_t kDead = 0xfff;

uint64_t Gen(uint64_t word) { return word >> kGenShift; }
uint64_t NextGen(uint64_t key) { return ((Gen(key) + 1) & 0xf) << kGenShift; }
bool Empty(uint64_t key) { return ((key >> kFieldShift) & 0xfff) == 0; }
uint64_t KeyOf(MacAddress mac, uint16_t vlan) {
  return (mac & kMacBits) | (static_cast<uint64_t>(vlan + 1) << kFieldShift);
}
uint16_t PortOf(uint64_t value) { return static_cast<uint16_t>((value >> kFieldShift) & 0xfff); }
uint64_t Value(uint64_t gen_bits, uint64_t port, uint64_t now_ms) {
  return gen_bits | (port << kFieldShift) | (now_ms & kTimeBits);
}
uint64_t DeadValue(uint64_t key) { return Value(key & ~kKeyBits, kDead, 0); }
uint64_t AgeOf(uint64_t value, uint64_t now_ms) { return (now_ms - value) & kTimeBits; }

uint64_t NextPowerOfTwo(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

MacTable::MacTable(uint32_t max_entries, uint64_t aging_ms)
    : max_entries_(std::max<uint32_t>(max_entries, 1)),
      aging_ms_(aging_ms),
      // Refreshing on every hit would make every packet a write to a shared line.
      refresh_ms_(std::min<uint64_t>(1000, aging_ms / 8)),
      // At most half full, so a bucket rarely overflows before the table does.
      bucket_mask_(NextPowerOfTwo((max_entries_ + kSlotsPerBucket / 2 - 1) / (kSlotsPerBucket / 2)) - 1),
      buckets_(new Bucket[bucket_mask_ + 1]) {
  for (uint64_t b = 0; b <= bucket_mask_; ++b) {
    for (uint32_t s = 0; s < kSlotsPerBucket; ++s) {
      buckets_[b].keys[s].store(0, std::memory_order_relaxed);
      buckets_[b].values[s].store(DeadValue(0), std::memory_order_relaxed);
    }
  }
}

MacTable::Bucket& MacTable::BucketOf(MacAddress mac, uint16_t vlan) const {
  uint64_t h = KeyOf(mac, vlan) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  return buckets_[h & bucket_mask_];
}

bool MacTable::Live(uint64_t key, uint64_t value, uint64_t now_ms) const {
  return Gen(key) == Gen(value) && PortOf(value) != kDead && AgeOf(value, now_ms) < aging_ms_;
}

// Taking a slot that holds an entry: first its value is made dead (by CAS, so that a
// learner refreshing it at the same time either wins and keeps the entry or loses and
// looks again), then the key changes by CAS (only one of the sweeper and the learners
// that all saw the dead value gets the slot).
bool MacTable::TakeSlot(Bucket& bucket, uint32_t slot, uint64_t key, uint64_t value, uint64_t new_key) {
  if (PortOf(value) != kDead &&
      !bucket.values[slot].compare_exchange_strong(value, DeadValue(key), std::memory_order_acq_rel)) {
    return false;
  }
  return bucket.keys[slot].compare_exchange_strong(key, new_key, std::memory_order_acq_rel);
}

// A CAS loop, not fetch_add and undo: occupied() never reads above the bound, even
// for an instant.
bool MacTable::Reserve() {
  uint32_t n = occupied_.load(std::memory_order_relaxed);
  do {
    if (n >= max_entries_) return false;
  } while (!occupied_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

bool MacTable::Insert(Bucket& bucket, uint64_t key_bits, uint16_t port, uint64_t now_ms) {
  for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
    uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
    const uint64_t new_key = key_bits | NextGen(key);
    if (Empty(key)) {
      if (!Reserve()) continue;  // the table is full: only expired slots may be reused
      if (bucket.keys[i].compare_exchange_strong(key, new_key, std::memory_order_acq_rel)) {
        bucket.values[i].store(Value(new_key & ~kKeyBits, port, now_ms), std::memory_order_release);
        return true;
      }
      occupied_.fetch_sub(1, std::memory_order_relaxed);
      // Another core took the slot; if for this very address, it is learned.
      if ((key & kKeyBits) == key_bits) return true;
      continue;
    }
    const uint64_t value = bucket.values[i].load(std::memory_order_acquire);
    if (Gen(value) != Gen(key) || Live(key, value, now_ms)) continue;  // being written, or in use
    if (TakeSlot(bucket, i, key, value, new_key)) {
      bucket.values[i].store(Value(new_key & ~kKeyBits, port, now_ms), std::memory_order_release);
      return true;
    }
  }
  return false;
}

MacTable::Learned MacTable::Learn(MacAddress mac, uint16_t vlan, uint16_t port, uint64_t now_ms) {
  const uint64_t key_bits = KeyOf(mac, vlan);
  Bucket& bucket = BucketOf(mac, vlan);
  // A lost race on an entry means another core just changed it: look again, a few
  // times; under a storm of changes giving up leaves the entry to the next packet.
  for (int attempt = 0; attempt < 4; ++attempt) {
    bool raced = false;
    for (uint32_t i = 0; i < kSlotsPerBucket && !raced; ++i) {
      const uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
      if ((key & kKeyBits) != key_bits) continue;
      uint64_t value = bucket.values[i].load(std::memory_order_acquire);
      if (Gen(value) != Gen(key) || PortOf(value) == kDead) continue;
      const uint64_t age = AgeOf(value, now_ms);
      const bool expired = age >= aging_ms_;
      const bool moved = PortOf(value) != port;
      if (!expired && !moved && age < refresh_ms_) return Learned::kKnown;
      if (bucket.values[i].compare_exchange_strong(value, Value(key & ~kKeyBits, port, now_ms),
                                                   std::memory_order_acq_rel)) {
        return expired ? Learned::kNew : moved ? Learned::kMoved : Learned::kKnown;
      }
      raced = true;
    }
    if (!raced) return Insert(bucket, key_bits, port, now_ms) ? Learned::kNew : Learned::kFull;
  }
  return Learned::kKnown;
}

int MacTable::Lookup(MacAddress mac, uint16_t vlan, uint64_t now_ms) const {
  const uint64_t key_bits = KeyOf(mac, vlan);
  const Bucket& bucket = BucketOf(mac, vlan);
  for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
    const uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
    if ((key & kKeyBits) != key_bits) continue;
    const uint64_t value = bucket.values[i].load(std::memory_order_acquire);
    if (Live(key, value, now_ms)) return PortOf(value);
  }
  return -1;
}

size_t MacTable::Sweep(uint64_t now_ms) {
  size_t removed = 0;
  for (uint64_t b = 0; b <= bucket_mask_; ++b) {
    Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
      if (Empty(key)) continue;
      const uint64_t value = bucket.values[i].load(std::memory_order_acquire);
      if (Gen(value) != Gen(key)) continue;  // a learner is writing it
      // Two cores that learned one new address at once may have taken two slots:
      // lookups use the first, so a later live copy is a duplicate.
      bool duplicate = false;
      for (uint32_t j = 0; j < i && !duplicate; ++j) {
        const uint64_t other = bucket.keys[j].load(std::memory_order_acquire);
        duplicate = (other & kKeyBits) == (key & kKeyBits) &&
                    Live(other, bucket.values[j].load(std::memory_order_acquire), now_ms);
      }
      if (Live(key, value, now_ms) && !duplicate) continue;
      if (TakeSlot(bucket, i, key, value, key & ~kKeyBits)) {
        occupied_.fetch_sub(1, std::memory_order_relaxed);
        ++removed;
      }
    }
  }
  return removed;
}

size_t MacTable::FlushPort(uint16_t port) {
  size_t removed = 0;
  for (uint64_t b = 0; b <= bucket_mask_; ++b) {
    Bucket& bucket = buckets_[b];
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
      const uint64_t value = bucket.values[i].load(std::memory_order_acquire);
      if (Empty(key) || Gen(value) != Gen(key) || PortOf(value) != port) continue;
      if (TakeSlot(bucket, i, key, value, key & ~kKeyBits)) {
        occupied_.fetch_sub(1, std::memory_order_relaxed);
        ++removed;
      }
    }
  }
  return removed;
}

std::vector<MacEntry> MacTable::Entries(uint64_t now_ms) const {
  std::vector<MacEntry> entries;
  for (uint64_t b = 0; b <= bucket_mask_; ++b) {
    const Bucket& bucket = buckets_[b];
    const size_t first = entries.size();
    for (uint32_t i = 0; i < kSlotsPerBucket; ++i) {
      const uint64_t key = bucket.keys[i].load(std::memory_order_acquire);
      const uint64_t value = bucket.values[i].load(std::memory_order_acquire);
      if (Empty(key) || !Live(key, value, now_ms)) continue;
      const MacEntry entry{key & kMacBits, static_cast<uint16_t>(((key >> kFieldShift) & 0xfff) - 1), PortOf(value),
                           AgeOf(value, now_ms)};
      const bool seen = std::any_of(entries.begin() + static_cast<std::ptrdiff_t>(first), entries.end(),
                                    [&](const MacEntry& e) { return e.mac == entry.mac && e.vlan == entry.vlan; });
      if (!seen) entries.push_back(entry);
    }
  }
  return entries;
}

}  // namespace vhostd
