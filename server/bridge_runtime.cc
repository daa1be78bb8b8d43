#include "server/bridge_runtime.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "server/bridge_config.h"

namespace vhostd {
namespace {

vhostd::v1::BridgeCounters ToProto(const BridgePortTotals& totals) {
  vhostd::v1::BridgeCounters out;
  out.set_flooded(totals.flooded);
  out.set_learned(totals.learned);
  out.set_table_full(totals.table_full);
  out.set_vlan_dropped(totals.vlan_dropped);
  return out;
}

}  // namespace

BridgeRuntime::BridgeRuntime(const vhostd::v1::Bridge& spec, uint64_t tsc_per_ms)
    : tsc_per_ms_(std::max<uint64_t>(tsc_per_ms, 1)),  // an engine without a TSC (tests) still ages
      macs_(std::make_shared<MacTable>(spec.mac_table_size(), uint64_t{spec.mac_aging_seconds()} * 1000)) {
  spec_.set_name(spec.name());
  spec_.set_mac_table_size(spec.mac_table_size());
  spec_.set_mac_aging_seconds(spec.mac_aging_seconds());
  for (const vhostd::v1::BridgePort& port : spec.ports()) Add(port);
}

vhostd::v1::Bridge BridgeRuntime::Spec() const {
  vhostd::v1::Bridge spec = spec_;
  for (const auto& [name, member] : members_) *spec.add_ports() = member.config;
  return spec;
}

const BridgeRuntime::Member* BridgeRuntime::Find(const std::string& port) const {
  auto it = members_.find(port);
  return it == members_.end() ? nullptr : &it->second;
}

void BridgeRuntime::Add(const vhostd::v1::BridgePort& config) {
  std::vector<bool> used(kMaxBridgePorts, false);
  for (const auto& [name, member] : members_) used[member.slot] = true;
  uint16_t slot = 0;
  while (slot < kMaxBridgePorts - 1 && used[slot]) ++slot;
  members_[config.port()] = Member{config, slot, NewBridgePortCounters()};
}

BridgeRuntime::Member BridgeRuntime::Remove(const std::string& port) {
  auto node = members_.extract(port);
  return std::move(node.mapped());
}

void BridgeRuntime::Restore(Member member) { members_[member.config.port()] = std::move(member); }

void BridgeRuntime::Retire(const Member& member) {
  macs_->FlushPort(member.slot);
  departed_ += SumLanes(member.counters.get());
}

std::shared_ptr<BridgeView> BridgeRuntime::MakeView(
    const std::function<BridgePortIo(const std::string&)>& io_of) const {
  auto view = std::make_shared<BridgeView>();
  view->name = spec_.name();
  view->macs = macs_;
  view->tsc_per_ms = tsc_per_ms_;
  for (const auto& [name, member] : members_) {
    if (view->members.size() <= member.slot) view->members.resize(member.slot + 1);
    BridgeMember& m = view->members[member.slot];
    const BridgePortIo io = io_of(name);
    m.name = name;
    m.io = io.io;
    m.queues = io.queues;
    m.counters = io.counters;
    m.vlan = ToVlanRule(member.config);
    m.stats = member.counters;
  }
  return view;
}

vhostd::v1::BridgeCounters BridgeRuntime::PortCounters(const std::string& port) const {
  const Member* member = Find(port);
  return member ? ToProto(SumLanes(member->counters.get())) : vhostd::v1::BridgeCounters();
}

vhostd::v1::Bridge BridgeRuntime::Describe(bool mac_table) const {
  vhostd::v1::Bridge out = spec_;
  BridgePortTotals totals = departed_;
  std::map<uint16_t, std::string> names;  // by slot
  for (const auto& [name, member] : members_) {
    vhostd::v1::BridgePort* port = out.add_ports();
    *port = member.config;
    const BridgePortTotals counts = SumLanes(member.counters.get());
    *port->mutable_counters() = ToProto(counts);
    totals += counts;
    names[member.slot] = name;
  }
  *out.mutable_counters() = ToProto(totals);
  std::vector<MacEntry> entries = macs_->Entries(TscMs(tsc_per_ms_));
  out.set_mac_entries(static_cast<uint32_t>(entries.size()));
  if (!mac_table) return out;
  std::sort(entries.begin(), entries.end(), [](const MacEntry& a, const MacEntry& b) {
    return std::tie(a.vlan, a.mac) < std::tie(b.vlan, b.mac);
  });
  for (const MacEntry& entry : entries) {
    auto name = names.find(entry.port);
    if (name == names.end()) continue;  // a port that just left: forgotten next
    vhostd::v1::MacTableEntry* row = out.add_mac_addresses();
    row->set_mac(FormatMac(entry.mac));
    row->set_vlan(entry.vlan);
    row->set_port(name->second);
    row->set_age_seconds(static_cast<double>(entry.age_ms) / 1000);
  }
  return out;
}

void BridgeRuntime::SweepMacTable() { macs_->Sweep(TscMs(tsc_per_ms_)); }

}  // namespace vhostd
