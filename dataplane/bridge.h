// A learning bridge as the polling cores see it: its MAC table, and for each port its
// I/O, its VLAN rule and its bridge counters. A BridgeView is immutable and built anew
// by the control plane whenever membership or a port's queue count changes; the MAC
// table and the counters outlive views (shared), so learning and counts survive.
#ifndef VHOSTD_DATAPLANE_BRIDGE_H_
#define VHOSTD_DATAPLANE_BRIDGE_H_

#include <rte_config.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/mac_table.h"
#include "dataplane/port_io.h"
#include "dataplane/queue_counters.h"

namespace vhostd {

// Ports per bridge (a slot indexes the MAC table and the flood arrays).
inline constexpr uint16_t kMaxBridgePorts = 64;

// What a port does with 802.1Q tags (VLAN 0 stands for "untagged" inside the bridge).
enum class VlanMode : uint8_t {
  kNone,    // no VLAN rule: frames keep their tag; untagged ones are VLAN 0
  kAccess,  // untagged frames belong to access_vlan; tagged ones are dropped; sent untagged
  kTrunk,   // tagged frames of an allowed VLAN only; sent tagged
};

struct VlanRule {
  VlanMode mode = VlanMode::kNone;
  uint16_t access_vlan = 0;  // kAccess: 1..4094
  uint64_t allowed[64] = {};  // kTrunk: bit v set when VLAN v (1..4094) is allowed

  bool Allows(uint16_t vlan) const { return (allowed[vlan >> 6] >> (vlan & 63)) & 1; }
  void Allow(uint16_t vlan) { allowed[vlan >> 6] |= uint64_t{1} << (vlan & 63); }
};

// Bridge counters of one port, counted where its frames are received. One lane per
// lcore (index rte_lcore_id(); the last for threads that are not lcores), so that
// cores polling different queues of the port never write one line.
struct alignas(64) BridgePortCounters {
  std::atomic<uint64_t> flooded{0};       // frames from this port sent to every other port
  std::atomic<uint64_t> learned{0};       // addresses learned (new or moved) on this port
  std::atomic<uint64_t> table_full{0};    // addresses not learned: no room in the table
  std::atomic<uint64_t> vlan_dropped{0};  // frames this port's VLAN rule refused
};
inline constexpr unsigned kCounterLanes = RTE_MAX_LCORE + 1;

struct BridgePortTotals {
  uint64_t flooded = 0, learned = 0, table_full = 0, vlan_dropped = 0;
  BridgePortTotals& operator+=(const BridgePortTotals& o);
};
// The sum over all lanes of `lanes` (an array of kCounterLanes).
BridgePortTotals SumLanes(const BridgePortCounters* lanes);
std::shared_ptr<BridgePortCounters[]> NewBridgePortCounters();

struct BridgeMember {
  std::string name;
  PortIo io;
  uint16_t queues = 0;  // active queues; 0: the port takes no traffic now
  QueueCounters* counters = nullptr;  // array of `queues`
  VlanRule vlan;
  std::shared_ptr<BridgePortCounters[]> stats;  // kCounterLanes lanes
};

// A member that has queues and a slot in use: it is polled and can be sent to.
inline bool TakesTraffic(const BridgeMember& member) { return member.queues != 0 && member.stats != nullptr; }

struct BridgeView {
  std::string name;
  std::shared_ptr<MacTable> macs;
  uint64_t tsc_per_ms = 1;
  // Indexed by slot (the port number in the MAC table); a free slot has no stats.
  std::vector<BridgeMember> members;
};

// Milliseconds of the clock the MAC tables of bridges run on (the TSC), for a TSC of
// `tsc_per_ms` cycles per millisecond; the control thread reads the same clock.
uint64_t TscMs(uint64_t tsc_per_ms);
inline uint64_t BridgeNowMs(const BridgeView& bridge) { return TscMs(bridge.tsc_per_ms); }

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_BRIDGE_H_
