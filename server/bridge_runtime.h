// One bridge as the control plane keeps it: its desired state (settings and ports with
// their VLAN rules), and what outlives the data plane's views of it: the MAC table,
// each port's slot and bridge counters, and the counts of ports that left.
#ifndef VHOSTD_SERVER_BRIDGE_RUNTIME_H_
#define VHOSTD_SERVER_BRIDGE_RUNTIME_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "dataplane/bridge.h"
#include "vhostd/v1/bridge.pb.h"

namespace vhostd {

// What a view needs of an open port; queues 0 when it is not open.
struct BridgePortIo {
  PortIo io;
  uint16_t queues = 0;
  QueueCounters* counters = nullptr;
};

class BridgeRuntime {
 public:
  struct Member {
    vhostd::v1::BridgePort config;  // normalized, without counters
    uint16_t slot = 0;
    std::shared_ptr<BridgePortCounters[]> counters;
  };

  // `spec` is normalized (NormalizeBridge); its ports are added in order.
  BridgeRuntime(const vhostd::v1::Bridge& spec, uint64_t tsc_per_ms);

  const std::string& name() const { return spec_.name(); }
  // Settings and ports as stored, in port name order.
  vhostd::v1::Bridge Spec() const;
  const Member* Find(const std::string& port) const;
  const std::map<std::string, Member>& members() const { return members_; }
  bool Full() const { return members_.size() >= kMaxBridgePorts; }

  // Adds a port in the lowest free slot, with fresh counters; the bridge is not Full().
  void Add(const vhostd::v1::BridgePort& config);
  // Takes a port out; Restore puts it back as it was (for undoing a failed change).
  Member Remove(const std::string& port);
  void Restore(Member member);
  // Once no core runs a view with `member`: its addresses are forgotten and its
  // counts move to the bridge's totals.
  void Retire(const Member& member);

  // A view for the cores of the ports as `io_of` finds them now.
  std::shared_ptr<BridgeView> MakeView(const std::function<BridgePortIo(const std::string&)>& io_of) const;
  // The bridge with counters, and with its MAC table if `mac_table`.
  vhostd::v1::Bridge Describe(bool mac_table) const;
  vhostd::v1::BridgeCounters PortCounters(const std::string& port) const;
  // Frees the slots of aged addresses; the reconciler calls it periodically.
  void SweepMacTable();

 private:
  vhostd::v1::Bridge spec_;  // name and settings
  const uint64_t tsc_per_ms_;
  std::shared_ptr<MacTable> macs_;
  std::map<std::string, Member> members_;
  BridgePortTotals departed_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_BRIDGE_RUNTIME_H_
