#include "dataplane/bridge_plan.h"

#include <map>
#include <numeric>
#include <utility>

namespace vhostd {
namespace {

// Union-find over entry indexes.
struct Groups {
  explicit Groups(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  size_t Find(size_t i) { return parent[i] == i ? i : parent[i] = Find(parent[i]); }
  void Join(size_t a, size_t b) { parent[Find(a)] = Find(b); }
  std::vector<size_t> parent;
};

bool TakesTraffic(const BridgeMember& member) { return member.queues != 0 && member.stats != nullptr; }

}  // namespace

std::string BridgeLabel(const std::string& bridge) { return "bridge:" + bridge; }

std::vector<ForwardingUnit> BridgeUnits(const BridgeView& bridge) {
  std::vector<PollEntry> entries;
  std::vector<PollLabel> labels;
  for (uint16_t slot = 0; slot < bridge.members.size(); ++slot) {
    const BridgeMember& m = bridge.members[slot];
    if (!TakesTraffic(m)) continue;
    for (uint16_t q = 0; q < m.queues; ++q) {
      // tx_port is the port itself: the queue this entry's lane writes there too, so
      // the engine's single-writer check sees the bridge's lanes.
      PollEntry entry{m.io, q, m.io, q, &m.counters[q], &m.counters[q]};
      entry.bridge = &bridge;
      entry.bridge_slot = slot;
      entries.push_back(entry);
      labels.push_back(PollLabel{m.name, q, BridgeLabel(bridge.name), q});
    }
  }
  Groups groups(entries.size());
  for (const BridgeMember& dst : bridge.members) {
    if (!TakesTraffic(dst)) continue;
    std::map<uint16_t, size_t> writer;  // tx queue of dst -> first entry writing it
    for (size_t i = 0; i < entries.size(); ++i) {
      auto [it, first] = writer.emplace(entries[i].rx_queue % dst.queues, i);
      if (!first) groups.Join(i, it->second);
    }
  }
  std::map<size_t, ForwardingUnit> units;  // by root, in order of first entry
  std::vector<size_t> order;
  for (size_t i = 0; i < entries.size(); ++i) {
    const size_t root = groups.Find(i);
    if (!units.count(root)) order.push_back(root);
    units[root].entries.push_back(entries[i]);
    units[root].labels.push_back(labels[i]);
  }
  std::vector<ForwardingUnit> result;
  for (size_t root : order) result.push_back(std::move(units[root]));
  return result;
}

}  // namespace vhostd
