#include "dataplane/bridge_forward.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "dataplane/forward_burst.h"

namespace vhostd {
namespace {

constexpr uint16_t kTagLength = sizeof(rte_vlan_hdr);

// Where a received frame belongs: its VLAN inside the bridge, and whether its bytes
// carry an 802.1Q tag now.
struct Frame {
  uint16_t vlan;
  bool tagged;
};

// The frames of one burst for each destination slot; a destination gets at most one
// per received frame, so a burst's worth is room enough.
struct Outputs {
  rte_mbuf* pkts[kMaxBridgePorts][kBurstSize];
  uint16_t count[kMaxBridgePorts];
};

// The address at `a` as a MacAddress: one 8-byte load (the frame is at least a whole
// Ethernet header long, so the two bytes past either address are still the header's).
MacAddress MacOf(const rte_ether_addr& a) {
  uint64_t word;
  memcpy(&word, &a, sizeof(word));
  return rte_be_to_cpu_64(word) >> 16;
}

// (MAC, VLAN) as one word, for remembering what a burst already looked at.
constexpr uint64_t kNoKey = ~uint64_t{0};
uint64_t KeyOf(MacAddress mac, uint16_t vlan) { return mac | uint64_t{vlan} << 48; }

// What happens to a unicast frame for a destination, decided once per destination
// and burst: a member slot, or one of these.
constexpr int kFloodIt = -1;  // unknown: flood
constexpr int kDropIt = -2;   // on the ingress port (no hair-pinning), or on a port that takes nothing now

// Applies the receiving port's VLAN rule; false: the rule refuses the frame.
bool Classify(const VlanRule& rule, const rte_mbuf* m, Frame* frame) {
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  const bool tagged = eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) &&
                      rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + kTagLength;
  const uint16_t vid =
      tagged ? rte_be_to_cpu_16(reinterpret_cast<const rte_vlan_hdr*>(eth + 1)->vlan_tci) & 0xfff : 0;
  switch (rule.mode) {
    case VlanMode::kNone:
      *frame = {vid, tagged};
      return true;
    case VlanMode::kAccess:
      *frame = {rule.access_vlan, false};
      return !tagged;
    case VlanMode::kTrunk:
      *frame = {vid, true};
      return tagged && vid != 0 && rule.Allows(vid);
  }
  return false;
}

bool Admits(const VlanRule& rule, uint16_t vlan) {
  switch (rule.mode) {
    case VlanMode::kNone:
      return true;
    case VlanMode::kAccess:
      return vlan == rule.access_vlan;
    case VlanMode::kTrunk:
      return vlan != 0 && rule.Allows(vlan);
  }
  return false;
}

bool SendsTagged(const VlanRule& rule, uint16_t vlan) {
  return rule.mode == VlanMode::kTrunk || (rule.mode == VlanMode::kNone && vlan != 0);
}

// Gives an unshared frame the tag form `tag` wants; false if it cannot (no headroom).
bool Retag(rte_mbuf* m, const Frame& frame, bool tag) {
  if (frame.tagged == tag) return true;
  if (tag) {
    m->vlan_tci = frame.vlan;
    return rte_vlan_insert(&m) == 0;
  }
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + kTagLength) return false;
  char* data = rte_pktmbuf_mtod(m, char*);
  memmove(data + kTagLength, data, 2 * RTE_ETHER_ADDR_LEN);
  rte_pktmbuf_adj(m, kTagLength);
  if (m->l2_len >= sizeof(rte_ether_hdr) + kTagLength) m->l2_len -= kTagLength;
  return true;
}

// `extra` more owners for every segment of `m` (each frees it once).
void AddReferences(rte_mbuf* m, uint16_t extra) {
  if (extra == 0) return;
  for (rte_mbuf* seg = m; seg != nullptr; seg = seg->next) rte_mbuf_refcnt_update(seg, static_cast<int16_t>(extra));
}

class BurstForwarder {
 public:
  BurstForwarder(const PollEntry& e, const OffloadPools& pools)
      : e_(e),
        bridge_(*e.bridge),
        pools_(pools),
        ingress_(bridge_.members[e.bridge_slot]),
        stats_(ingress_.stats[std::min<unsigned>(rte_lcore_id(), RTE_MAX_LCORE)]),
        now_ms_(BridgeNowMs(bridge_)) {
    std::fill_n(out_.count, bridge_.members.size(), 0);
  }

  void Forward(rte_mbuf* m);
  void Transmit();

 private:
  // A member that can take frames now.
  bool Active(uint16_t slot) const { return TakesTraffic(bridge_.members[slot]); }
  // What this core writes on `slot`'s port: the entry, aimed there.
  PollEntry TxTo(uint16_t slot) const;
  void Push(uint16_t slot, rte_mbuf* m) { out_.pkts[slot][out_.count[slot]++] = m; }
  void CountDrop(uint16_t slot) {
    const TxChoice c = BridgeTxQueue(e_, slot);
    CounterAdd(bridge_.members[slot].counters[c.queue].tx_dropped, 1, c.shared);
  }
  // Edits `m` (unshared) for `slot` and queues it, or drops it if it cannot be edited.
  void PushRetagged(uint16_t slot, rte_mbuf* m, const Frame& frame);
  // Learns the frame's source unless this burst already did; counts what changed.
  void LearnSource(MacAddress src, const Frame& frame);
  // Where a unicast frame for `dst` goes: a member slot, kFloodIt or kDropIt.
  int UnicastDestination(MacAddress dst, const Frame& frame);
  void Flood(rte_mbuf* m, const Frame& frame);
  void FloodExclusive(rte_mbuf* m, const Frame& frame, const uint16_t* slots, uint16_t count);

  const PollEntry& e_;
  const BridgeView& bridge_;
  const OffloadPools& pools_;
  const BridgeMember& ingress_;
  BridgePortCounters& stats_;
  const uint64_t now_ms_;
  // Frames of one burst mostly share their addresses (a flow, a few flows), so the
  // last source learned and the last destination decided are remembered: a run of
  // such frames costs one table access each way, not one per frame.
  uint64_t learned_key_ = kNoKey;
  uint64_t decided_key_ = kNoKey;
  int decided_ = kFloodIt;
  Outputs out_;
};

PollEntry BurstForwarder::TxTo(uint16_t slot) const {
  const BridgeMember& member = bridge_.members[slot];
  const TxChoice choice = BridgeTxQueue(e_, slot);
  PollEntry tx = e_;
  tx.tx_port = member.io;
  tx.tx_queue = choice.queue;
  tx.tx_counters = &member.counters[choice.queue];
  tx.tx_shared = choice.shared;
  tx.backlog = nullptr;
  return tx;
}

void BurstForwarder::PushRetagged(uint16_t slot, rte_mbuf* m, const Frame& frame) {
  if (Retag(m, frame, SendsTagged(bridge_.members[slot].vlan, frame.vlan))) return Push(slot, m);
  rte_pktmbuf_free(m);
  CountDrop(slot);
}

void BurstForwarder::LearnSource(MacAddress src, const Frame& frame) {
  const uint64_t key = KeyOf(src, frame.vlan);
  if (key == learned_key_) return;  // learned (or refreshed) by this burst already
  learned_key_ = key;
  // A destination decided earlier in the burst may be this very address, now on the
  // ingress port: decide it again.
  if (key == decided_key_) decided_key_ = kNoKey;
  switch (bridge_.macs->Learn(src, frame.vlan, e_.bridge_slot, now_ms_)) {
    case MacTable::Learned::kNew:
    case MacTable::Learned::kMoved:
      CounterAdd(stats_.learned, 1);
      break;
    case MacTable::Learned::kFull:
      CounterAdd(stats_.table_full, 1);
      learned_key_ = kNoKey;  // not learned: every frame from it is counted
      break;
    case MacTable::Learned::kKnown:
      break;
  }
}

int BurstForwarder::UnicastDestination(MacAddress dst, const Frame& frame) {
  const uint64_t key = KeyOf(dst, frame.vlan);
  if (key == decided_key_) return decided_;
  decided_key_ = key;
  const int slot = bridge_.macs->Lookup(dst, frame.vlan, now_ms_);
  if (slot < 0) return decided_ = kFloodIt;
  const auto member = static_cast<uint16_t>(slot);
  const bool takes_it = member != e_.bridge_slot && member < bridge_.members.size() && Active(member) &&
                        Admits(bridge_.members[member].vlan, frame.vlan);
  return decided_ = takes_it ? slot : kDropIt;
}

void BurstForwarder::Forward(rte_mbuf* m) {
  Frame frame;
  if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) || !Classify(ingress_.vlan, m, &frame)) {
    CounterAdd(stats_.vlan_dropped, 1);
    return rte_pktmbuf_free(m);
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (!rte_is_multicast_ether_addr(&eth->src_addr)) LearnSource(MacOf(eth->src_addr), frame);
  if (rte_is_multicast_ether_addr(&eth->dst_addr)) return Flood(m, frame);  // broadcast too
  const int dst = UnicastDestination(MacOf(eth->dst_addr), frame);
  if (dst == kFloodIt) return Flood(m, frame);  // unknown unicast
  if (dst == kDropIt) return rte_pktmbuf_free(m);
  const auto slot = static_cast<uint16_t>(dst);
  if (frame.tagged == SendsTagged(bridge_.members[slot].vlan, frame.vlan)) return Push(slot, m);
  PushRetagged(slot, m, frame);
}

void BurstForwarder::Flood(rte_mbuf* m, const Frame& frame) {
  CounterAdd(stats_.flooded, 1);
  // Destinations that take the frame's bytes as they are, and those needing the tag
  // changed; together, every active port of the VLAN but the one it came from.
  uint16_t as_is[kMaxBridgePorts], retagged[kMaxBridgePorts];
  uint16_t n_as_is = 0, n_retagged = 0;
  for (uint16_t slot = 0; slot < bridge_.members.size(); ++slot) {
    if (slot == e_.bridge_slot || !Active(slot) || !Admits(bridge_.members[slot].vlan, frame.vlan)) continue;
    if (SendsTagged(bridge_.members[slot].vlan, frame.vlan) == frame.tagged) {
      as_is[n_as_is++] = slot;
    } else {
      retagged[n_retagged++] = slot;
    }
  }
  if (__builtin_expect((m->ol_flags & kPendingOffloadFlags) != 0, 0)) {
    std::copy_n(retagged, n_retagged, as_is + n_as_is);
    return FloodExclusive(m, frame, as_is, n_as_is + n_retagged);
  }
  rte_mbuf* copy = nullptr;  // the retagged form, shared by the `retagged` ports
  if (n_retagged != 0) {
    copy = n_as_is == 0 ? m : rte_pktmbuf_copy(m, pools_.direct, 0, UINT32_MAX);
    if (copy != nullptr && !Retag(copy, frame, !frame.tagged)) {
      if (copy != m) rte_pktmbuf_free(copy);
      copy = nullptr;
    }
    if (copy == nullptr) {
      for (uint16_t i = 0; i < n_retagged; ++i) CountDrop(retagged[i]);
      n_retagged = 0;
    }
    AddReferences(copy, n_retagged > 0 ? n_retagged - 1 : 0);
    for (uint16_t i = 0; i < n_retagged; ++i) Push(retagged[i], copy);
  }
  if (n_as_is != 0) {
    AddReferences(m, n_as_is - 1);
    for (uint16_t i = 0; i < n_as_is; ++i) Push(as_is[i], m);
  } else if (copy != m) {
    rte_pktmbuf_free(m);  // nobody takes it as it is
  }
}

// A frame whose offloads each destination completes in place: one frame per destination.
void BurstForwarder::FloodExclusive(rte_mbuf* m, const Frame& frame, const uint16_t* slots, uint16_t count) {
  if (count == 0) return rte_pktmbuf_free(m);
  for (uint16_t i = 0; i + 1 < count; ++i) {
    rte_mbuf* copy = rte_pktmbuf_copy(m, pools_.direct, 0, UINT32_MAX);
    if (copy == nullptr) {
      CountDrop(slots[i]);
      continue;
    }
    PushRetagged(slots[i], copy, frame);
  }
  PushRetagged(slots[count - 1], m, frame);
}

void BurstForwarder::Transmit() {
  for (uint16_t slot = 0; slot < bridge_.members.size(); ++slot) {
    const uint16_t count = out_.count[slot];
    if (count == 0) continue;
    const PollEntry tx = TxTo(slot);
    if (__builtin_expect(AnyPendingOffload(out_.pkts[slot], count), 0)) {
      SendWithOffloads(tx, pools_, out_.pkts[slot], count);
    } else {
      SendBurst(tx, out_.pkts[slot], count);
    }
  }
}

}  // namespace

uint16_t BridgeBurst(const PollEntry& e, const OffloadPools& pools) {
  rte_mbuf* pkts[kBurstSize];
  const uint16_t received = ReceiveCounted(e, pkts);
  if (received == 0) return 0;
  BurstForwarder forwarder(e, pools);
  for (uint16_t i = 0; i < received; ++i) forwarder.Forward(pkts[i]);
  forwarder.Transmit();
  return received;
}

}  // namespace vhostd
