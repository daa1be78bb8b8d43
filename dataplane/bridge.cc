#include "dataplane/bridge.h"

#include <rte_cycles.h>

namespace vhostd {

BridgePortTotals& BridgePortTotals::operator+=(const BridgePortTotals& o) {
  flooded += o.flooded;
  learned += o.learned;
  table_full += o.table_full;
  vlan_dropped += o.vlan_dropped;
  return *this;
}

BridgePortTotals SumLanes(const BridgePortCounters* lanes) {
  BridgePortTotals totals;
  for (unsigned lane = 0; lane < kCounterLanes; ++lane) {
    totals += BridgePortTotals{CounterRead(lanes[lane].flooded), CounterRead(lanes[lane].learned),
                               CounterRead(lanes[lane].table_full), CounterRead(lanes[lane].vlan_dropped)};
  }
  return totals;
}

std::shared_ptr<BridgePortCounters[]> NewBridgePortCounters() {
  return std::shared_ptr<BridgePortCounters[]>(new BridgePortCounters[kCounterLanes]);
}

uint64_t TscMs(uint64_t tsc_per_ms) { return rte_rdtsc() / tsc_per_ms; }

}  // namespace vhostd
