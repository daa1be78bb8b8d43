// What each polling core does: pure functions from cross-connects to per-core programs.
// No DPDK calls here, so the planning rules are unit-tested without a data plane.
#ifndef VHOSTD_DATAPLANE_FORWARDING_PLAN_H_
#define VHOSTD_DATAPLANE_FORWARDING_PLAN_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/port_io.h"
#include "dataplane/queue_counters.h"
#include "dataplane/tx_lanes.h"

namespace vhostd {

struct TxBacklog;  // forward_burst.h: segments waiting for room in the transmit ring
struct BridgeView;  // bridge.h: a learning bridge the entry's packets go to

// One receive queue polled by a core and the transmit queue its packets go to.
struct PollEntry {
  PortIo rx_port;
  uint16_t rx_queue;
  PortIo tx_port;
  uint16_t tx_queue;
  QueueCounters* rx_counters;  // counters of (rx_port, rx_queue)
  QueueCounters* tx_counters;  // counters of (tx_port, tx_queue); its tx_lock when shared
  TxBacklog* backlog = nullptr;  // owned by the polling core running the entry
  std::atomic<uint64_t>* busy_cycles = nullptr;  // likewise: cycles of its non-empty bursts
  // Set for a bridge port's queue: packets go where the bridge says (bridge_forward.h),
  // not to tx_port, which is then the receiving port itself (see BridgeUnits).
  const BridgeView* bridge = nullptr;
  uint16_t bridge_slot = 0;  // the receiving port's slot in the bridge
  uint16_t bridge_slots = 0;  // the bridge's number of slots
  uint16_t tx_queues = 0;  // tx_port's queue count (0: an entry made by hand keeps tx_queue)
  // Set by AssignToCores (AssignTxLanes), from where the entries run:
  bool tx_shared = false;  // another core writes (tx_port, tx_queue) too: send under its lock
  // A bridge entry's lane on each member port, by slot (owned by the CoreProgram).
  const TxLane* bridge_lanes = nullptr;
};

// Names for a PollEntry, for operators; kept apart from the hot data.
struct PollLabel {
  std::string rx_port;
  uint16_t rx_queue;
  std::string tx_port;
  uint16_t tx_queue;
};

// Entries that go to one core together. The planner makes one unit per receive queue
// (the tx queue follows the core, tx_lanes.h), so any receive queue may be placed on
// any core; a unit of several entries is kept whole.
struct ForwardingUnit {
  std::vector<PollEntry> entries;
  std::vector<PollLabel> labels;
};

struct PortRef {
  std::string name;
  PortIo io;
  uint16_t queues;
  QueueCounters* counters;  // array of `queues`
};

// Units for a cross-connect of `a` and `b`: one per receive queue of either port, a's
// then b's (none if a side has no queue). Receive queue i of one port sends to queue
// i mod n of the other, until AssignToCores says which queues each core writes.
std::vector<ForwardingUnit> CrossConnectUnits(const PortRef& a, const PortRef& b);

struct CoreProgram {
  std::vector<PollEntry> entries;
  std::vector<PollLabel> labels;
  // What entries' bridge_lanes point into; shared by the programs made from this one.
  std::vector<std::shared_ptr<const std::vector<TxLane>>> lane_tables;
};

// A receive queue by name: (port, queue). Names, not PortIo, so that an assignment
// read back from the engine's labels matches the next plan's units.
using RxQueueKey = std::pair<std::string, uint16_t>;

// Where a receive queue is polled now: the index of its core, and the share (0..1) of
// that core's cycles it used recently, if measured.
struct CurrentQueue {
  size_t core = 0;
  std::optional<double> load;
};
using CurrentAssignment = std::map<RxQueueKey, CurrentQueue>;

// Loads closer than this (a share of a core) are equal for assignment.
inline constexpr double kLoadTie = 0.05;

// The assignment that `programs` (one per core) make, without loads.
CurrentAssignment AssignmentOf(const std::vector<CoreProgram>& programs);

// How units that are placed afresh choose their core, like OVS's pmd-rxq-assign.
enum class AssignMode {
  // The default. Placing new units: as kGroup. Rebalancing: units sorted by load,
  // heaviest first, dealt to the cores in order and back (0, 1, .., n-1, n-1, .., 0).
  kCycles,
  // Each unit to the least-loaded core (heaviest first when rebalancing), so that one
  // hot queue can own a core.
  kGroup,
  // Loads ignored: new units to the core with the fewest entries; rebalancing deals
  // the units to the cores in turn, in unit order.
  kRoundRobin,
};

struct AssignOptions {
  AssignMode mode = AssignMode::kCycles;
  // Pinned receive queues: queue -> core index (cores at or above `cores` are ignored).
  // A unit goes to the core of its first pinned queue (in unit order): it is kept
  // whole.
  std::map<RxQueueKey, size_t> pins;
  // Cores that run a pinned unit get no unpinned one (unless every core does).
  bool isolate_pinned = true;
  // Place every unpinned unit afresh, ignoring where it runs now (a rebalance).
  bool rebalance = false;
};

// Spreads units over `cores` cores. Pinned units go to their core. Otherwise it keeps
// what runs now where it runs (stable assignment: an unrelated change moves no queue,
// so no core loses a warm queue and no counter changes hands):
// - a unit with a receive queue in `current` on a core below `cores` stays on the core
//   that polls most of its queues (lowest index on ties), unless that core is isolated
//   or options.rebalance; it moves only queues that joined it, as when a port's queue
//   count changed;
// - every other unit, in order, goes where options.mode says. "Least loaded" is the
//   lowest load (the sum of its queues' measured loads, compared in steps of kLoadTie
//   so that noise does not decide), then the fewest entries, then the lowest index. A
//   queue without a measured load counts as the mean of the measured ones (0 if none:
//   then it is entry count).
// Queues in `current` that no unit has are dropped. Deterministic for equal input.
// Then every entry gets the transmit queues its core writes (AssignTxLanes).
std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores,
                                       const CurrentAssignment& current = {}, const AssignOptions& options = {});

// Gives every entry of `programs` (one per core) its core's lane on the port it sends
// to, or for a bridge entry on each member (cores that run entries of other members;
// bridge_lanes), and a cross-connect entry the tx queue and counters TxQueueFor says.
// So each core writes tx queues of its own wherever a port has enough; only cores
// sending to a port with fewer queues than senders share one (tx_shared).
void AssignTxLanes(std::vector<CoreProgram>& programs);

// Whether core `core` of `programs` runs a pinned queue, with options.isolate_pinned:
// then it is isolated (polls pinned queues only), as AssignToCores placed them.
std::vector<bool> IsolatedCores(const std::vector<ForwardingUnit>& units, size_t cores, const AssignOptions& options);

// A receive queue that a new assignment polls on another core than now.
struct QueueMove {
  RxQueueKey queue;
  size_t from;  // core index
  size_t to;
};

// The queues `programs` poll on another core than `current` says, in queue order.
std::vector<QueueMove> MovesBetween(const CurrentAssignment& current, const std::vector<CoreProgram>& programs);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_FORWARDING_PLAN_H_
