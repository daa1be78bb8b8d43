// What each polling core does: pure functions from cross-connects to per-core programs.
// No DPDK calls here, so the planning rules are unit-tested without a data plane.
#ifndef VHOSTD_DATAPLANE_FORWARDING_PLAN_H_
#define VHOSTD_DATAPLANE_FORWARDING_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/port_io.h"
#include "dataplane/queue_counters.h"

namespace vhostd {

struct TxBacklog;  // forward_burst.h: segments waiting for room in the transmit ring

// One receive queue polled by a core and the transmit queue its packets go to.
struct PollEntry {
  PortIo rx_port;
  uint16_t rx_queue;
  PortIo tx_port;
  uint16_t tx_queue;
  QueueCounters* rx_counters;  // counters of (rx_port, rx_queue)
  QueueCounters* tx_counters;  // counters of (tx_port, tx_queue)
  TxBacklog* backlog = nullptr;  // owned by the polling core running the entry
};

// Names for a PollEntry, for operators; kept apart from the hot data.
struct PollLabel {
  std::string rx_port;
  uint16_t rx_queue;
  std::string tx_port;
  uint16_t tx_queue;
};

// Entries that must run on the same core because they write the same transmit queue:
// vhostd gives every transmit queue a single writer (ethdev queues require it; for
// vhost-user queues see docs/ARCHITECTURE.md, "Which queues cores may share").
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

// Units for a cross-connect of `a` and `b`: receive queue i of one port sends to queue
// i mod n of the other. Each direction has its own units, since the two write
// different ports: for rx port r and tx port t, the receive queues equal modulo
// t.queues write one transmit queue and form one unit, so a direction has
// min(r.queues, t.queues) units. The result is a->b's units, then b->a's (none if a side
// has no queue).
std::vector<ForwardingUnit> CrossConnectUnits(const PortRef& a, const PortRef& b);

struct CoreProgram {
  std::vector<PollEntry> entries;
  std::vector<PollLabel> labels;
};

// Spreads units over `cores` cores: each unit, in order, goes to the core with the
// fewest entries so far (lowest index on ties). Deterministic for equal input.
std::vector<CoreProgram> AssignToCores(const std::vector<ForwardingUnit>& units, size_t cores);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_FORWARDING_PLAN_H_
