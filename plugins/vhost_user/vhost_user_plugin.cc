#include "plugins/vhost_user/vhost_user_plugin.h"

#include <rte_config.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <functional>
#include <algorithm>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/offload.h"
#include "dataplane/virtio_features.h"
#include "plugins/vhost_user/fd_slots.h"
#include "plugins/vhost_user/guest_fault_watcher.h"
#include "plugins/vhost_user/guest_memory_port.h"
#include "plugins/vhost_user/mem_table_check.h"
#include "plugins/vhost_user/socket_access.h"
#include "plugins/vhost_user/socket_path.h"
#include "plugins/vhost_user/vhost_user.pb.h"
#include "plugins/vhost_user/vhost_lib.h"
#include "plugins/vhost_user/vhost_msg.h"

namespace vhostd {
namespace {

using vhostd::plugins::vhost_user::v1::VhostUserSpec;
using vhostd::plugins::vhost_user::v1::VhostUserStatus;

class VhostUserBackend;

// Socket path -> backend, for routing lib/vhost's events. Events take the lock only to
// look up; the control thread never calls into lib/vhost while holding it (lib/vhost's
// unregister waits for running callbacks, which would deadlock).
class Sockets {
 public:
  static Sockets& Get() {
    static Sockets* sockets = new Sockets;
    return *sockets;
  }

  void Add(const std::string& path, VhostUserBackend* backend) {
    absl::MutexLock lock(&mu_);
    by_path_[path] = backend;
  }
  void Remove(const std::string& path) {
    absl::MutexLock lock(&mu_);
    by_path_.erase(path);
  }
  // Runs `fn` on the backend of device `vid`, under the lock (so the backend cannot be
  // removed meanwhile; Remove happens only after lib/vhost unregistered the path).
  template <typename Fn>
  void WithBackend(int vid, Fn fn) {
    char path[4096];
    if (vhostd_vhost_path(vid, path, sizeof(path)) != 0) return;
    absl::MutexLock lock(&mu_);
    auto it = by_path_.find(path);
    if (it != by_path_.end()) fn(*it->second);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, VhostUserBackend*> by_path_ ABSL_GUARDED_BY(mu_);
};

// One vhost-user socket served by lib/vhost directly.
//
// A socket may carry several frontend connections (a server-mode socket accepts the
// destination QEMU of a live migration while the source is still attached). The one
// whose device came up last is *active*: polling cores use only its vid. Its per-queue
// enabled rings are published as bit masks that the data path tests before calling
// lib/vhost, so a ring the frontend did not set up is never touched (lib/vhost logs
// an error on every call for those).
//
// destroy_device clears the active vid, then waits for the cores to pass a quiescent
// point before returning, because lib/vhost frees the virtqueues right after (see
// WaitForQuiescence).
class VhostUserBackend : public PortBackend {
 public:
  VhostUserBackend(std::string path, const VhostUserSpec& spec, const PluginContext& context,
                   GuestFaultWatcher* watcher)
      : path_(std::move(path)),
        client_(spec.mode() == VhostUserSpec::MODE_CLIENT),
        no_reconnect_(spec.no_reconnect()),
        configured_queues_(static_cast<uint16_t>(spec.queues())),
        context_(context),
        counters_(new QueueCounters[kMaxQueues]),
        watcher_(watcher),
        memory_(GuestMemoryGuard::Get()) {}

  // Stops the fault watcher's checks, unregisters the socket (lib/vhost runs
  // destroy_device first if a frontend is attached, while this object is still whole),
  // then stops routing its events here.
  ~VhostUserBackend() override {
    if (memory_.owner() >= 0) watcher_->Remove(memory_.owner());
    if (registered_) vhostd_vhost_stop(path_.c_str());
    memory_.Forget(-1);
    Sockets::Get().Remove(path_);
    FdSlots::Get().Release(FdSlots::PerSocket(client_));
  }

  // lib/vhost serves the socket; guest memory faults now take it down, then
  // `register_again` serves it anew (with the same options, mode, owner and group).
  void MarkRegistered(std::function<bool()> register_again) {
    register_again_ = std::move(register_again);
    registered_ = true;
    if (memory_.owner() >= 0) watcher_->Add(memory_.owner(), [this](uint64_t faults) { OnGuardTick(faults); });
  }

  uint16_t queues() const override {
    if (vid_.load(std::memory_order_acquire) < 0) return configured_queues_;
    return EnabledPairs(rx_mask_.load(std::memory_order_acquire) & tx_mask_.load(std::memory_order_acquire));
  }
  uint16_t counted_queues() const override {
    return std::max<uint16_t>(configured_queues_, max_seen_queues_.load(std::memory_order_acquire));
  }
  QueueCounters* counters() override { return counters_.get(); }
  DriverStats ReadDriverStats() const override { return {}; }
  PortIo io() const override {
    return PortIo{&Receive, &Transmit, const_cast<VhostUserBackend*>(this), &tx_offloads_};
  }

  void FillStatus(PortState* state, google::protobuf::Message* type_status) const override {
    absl::MutexLock lock(&mu_);
    const int vid = vid_.load(std::memory_order_acquire);
    state->backend = "vhost-user";
    state->state = vid >= 0 ? PortLinkState::kUp : PortLinkState::kWaitingForPeer;
    if (vid < 0) state->message = WaitingMessage();
    uint64_t features = 0;
    bool dirty_logging = false;
    if (vid >= 0 && vhostd_vhost_negotiated_features(vid, &features) == 0) {
      state->negotiated_features = features;
      state->negotiated_feature_names = VirtioFeatureNames(features);
      dirty_logging = (features >> VHOSTD_VHOST_F_LOG_ALL) & 1;
    }
    const uint32_t rx = vid >= 0 ? rx_mask_.load() : 0, tx = vid >= 0 ? tx_mask_.load() : 0;
    for (uint16_t q = 0; q < counted_queues(); ++q) {
      state->queues.push_back(QueueState{q, ((rx >> q) & 1) != 0, ((tx >> q) & 1) != 0});
    }
    state->frontend_connects = connects_;
    state->frontend_disconnects = disconnects_;
    if (const std::string error = memory_.error(); !error.empty()) {
      state->state = PortLinkState::kError;
      state->message = error;
    } else if (!control_error_.empty()) {
      state->state = PortLinkState::kError;
      state->message = control_error_;
    }
    if (VhostUserStatus* status = TypedStatus<VhostUserStatus>(type_status)) {
      status->set_frontend_connections(static_cast<uint32_t>(connections_.size()));
      status->set_dirty_logging(dirty_logging);
      status->set_feature_changes(feature_changes_);
      const GuestMemoryPort::Info memory = memory_.info();
      status->set_memory_regions(memory.regions);
      status->set_memory_regions_shrink_sealed(memory.shrink_sealed);
      status->set_refused_memory_tables(memory.refused_tables);
      status->set_guest_memory_faults(memory.faults);
      status->set_dropped_control_channels(dropped_control_channels_);
      status->set_refused_connections(refused_connections_);
    }
  }

  // SET_MEM_TABLE (event thread), before and after lib/vhost maps it: 0 or -1 (drop
  // the connection).
  int OnCheckMemTable(int vid, const vhostd_vhost_msg& msg) {
    if (memory_.Check(vid, msg)) return 0;
    Notify();
    return -1;
  }
  int OnMemTableMapped(int vid) {
    if (memory_.Mapped(vid)) return 0;
    Notify();
    return -1;
  }
  // The control channel of `vid` is dropped (control_channel.h): ERROR until a frontend
  // brings a device up again.
  void OnControlRefused(int vid, const char* reason) {
    {
      absl::MutexLock lock(&mu_);
      control_error_ = absl::StrCat("control channel of connection ", vid, " dropped: ", reason);
      ++dropped_control_channels_;
    }
    Notify();
  }

  // lib/vhost events (its event thread). They record state, tell the daemon, return.
  int OnNewConnection(int vid) {
    absl::MutexLock lock(&mu_);
    if (connections_.size() >= kMaxConnectionsPerSocket) {
      ++refused_connections_;
      return -1;
    }
    connections_[vid];
    return 0;
  }

  void OnDestroyConnection(int vid) {
    memory_.Forget(vid);  // lib/vhost unmaps it next
    {
      absl::MutexLock lock(&mu_);
      connections_.erase(vid);
      // NO_RECONNECT: lib/vhost unregistered nothing but will not connect again.
      if (client_ && no_reconnect_ && connections_.empty()) gave_up_ = true;
    }
    Notify();
  }

  void OnNewDevice(int vid) {
    {
      absl::MutexLock lock(&mu_);
      Connection& c = connections_[vid];
      c.running = true;
      Activate(vid, c);
      ++connects_;
      control_error_.clear();
    }
    memory_.ClearError();
    Notify();
  }

  void OnDestroyDevice(int vid) {
    {
      absl::MutexLock lock(&mu_);
      auto it = connections_.find(vid);
      if (it != connections_.end()) it->second.running = false;
      if (vid != vid_.load(std::memory_order_relaxed)) return;  // not the one polled
      Deactivate();
      ++disconnects_;
      // Another running connection (a migration's other side) takes over.
      for (auto& [other, c] : connections_) {
        if (c.running) {
          Activate(other, c);
          break;
        }
      }
    }
    Notify();
  }

  void OnVringState(int vid, uint16_t vring, bool enable) {
    const uint16_t q = vring / 2;
    if (q >= kMaxQueues) return;
    {
      absl::MutexLock lock(&mu_);
      Connection& c = connections_[vid];
      // Odd rings are the frontend's transmit rings: vhostd receives from them.
      uint32_t& mask = vring % 2 ? c.rx_mask : c.tx_mask;
      mask = enable ? mask | (1u << q) : mask & ~(1u << q);
      if (vid != vid_.load(std::memory_order_relaxed)) return;
      Publish(c);
    }
    Notify();
  }

  void OnFeaturesChanged() {
    absl::MutexLock lock(&mu_);
    ++feature_changes_;
  }

 private:
  struct Connection {
    bool running = false;  // between new_device and destroy_device
    uint32_t rx_mask = 0;  // enabled rings, bit per queue pair
    uint32_t tx_mask = 0;
  };

  // Pairs 0..n-1 with both rings enabled (a Linux guest enables a prefix).
  static uint16_t EnabledPairs(uint32_t both) { return static_cast<uint16_t>(__builtin_ctz(~both)); }

  void Activate(int vid, const Connection& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint64_t features = 0;
    vhostd_vhost_negotiated_features(vid, &features);
    tx_offloads_.store(TxOffloadsFromVirtioFeatures(features), std::memory_order_relaxed);
    Publish(c);
    vid_.store(vid, std::memory_order_release);
  }

  void Deactivate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    vid_.store(-1, std::memory_order_seq_cst);
    // A core may be inside a burst that read the old vid: let it finish.
    if (context_.quiescence) context_.quiescence->WaitForQuiescence();
    rx_mask_.store(0, std::memory_order_relaxed);
    tx_mask_.store(0, std::memory_order_relaxed);
    tx_offloads_.store(0, std::memory_order_relaxed);
  }

  void Publish(const Connection& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    rx_mask_.store(c.rx_mask, std::memory_order_release);
    tx_mask_.store(c.tx_mask, std::memory_order_release);
    const uint16_t used = static_cast<uint16_t>(32 - __builtin_clz((c.rx_mask | c.tx_mask) | 1));
    if (used > max_seen_queues_.load(std::memory_order_relaxed)) max_seen_queues_.store(used);
  }

  // The fault watcher's thread: after a fault in this port's guest memory, the port is
  // in ERROR and its frontends are disconnected (lib/vhost has no call to close one
  // connection, so the socket is registered anew; a server socket is listening again
  // right after, a client one reconnects).
  void OnGuardTick(uint64_t faults) {
    if (faults == 0 || !registered_) return;
    memory_.Faulted(faults);
    Notify();
    vhostd_vhost_stop(path_.c_str());
    memory_.Forget(-1);
    {
      absl::MutexLock lock(&mu_);
      connections_.clear();
    }
    registered_ = register_again_();
    Notify();
  }

  void Notify() const {
    if (context_.events) context_.events->PortChanged();
  }

  std::string WaitingMessage() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (gave_up_) return "the frontend went away and reconnecting is off (no_reconnect): recreate the port";
    return client_ ? "connecting to the frontend's socket" : "waiting for a frontend to connect";
  }

  static uint16_t Receive(void* self, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<VhostUserBackend*>(self);
    const int vid = port->vid_.load(std::memory_order_acquire);
    if (vid < 0 || !((port->rx_mask_.load(std::memory_order_relaxed) >> queue) & 1)) return 0;
    const uint16_t n = vhostd_vhost_dequeue(vid, queue, port->context_.mbuf_pool, pkts, count);
    if (n == 0) port->CountBufferShortage(vid, queue, count);
    return n;
  }

  // lib/vhost's dequeue returns 0 both for an empty ring and when it could not get
  // `count` buffers. Empty polls are frequent, so the cheap test comes first: while this
  // core's cache of the pool holds a burst, there was no shortage (one read, no lock;
  // asking lib/vhost for the pending count takes the queue's lock and reads a cache line
  // the frontend writes). Only then: no burst's worth in the whole pool, and packets
  // waiting.
  void CountBufferShortage(int vid, uint16_t queue, uint16_t count) {
    rte_mempool* pool = context_.mbuf_pool;
    const rte_mempool_cache* cache = rte_mempool_default_cache(pool, rte_lcore_id());
    if (cache != nullptr && cache->len >= count) return;
    if (rte_mempool_avail_count(pool) >= count || vhostd_vhost_pending(vid, queue) == 0) return;
    CounterAdd(counters_[queue].rx_no_mbuf, 1);
  }

  // lib/vhost copies into the frontend's buffers: the sent mbufs are freed here.
  static uint16_t Transmit(void* self, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<VhostUserBackend*>(self);
    const int vid = port->vid_.load(std::memory_order_acquire);
    if (vid < 0 || !((port->tx_mask_.load(std::memory_order_relaxed) >> queue) & 1)) return 0;
    const uint16_t sent = vhostd_vhost_enqueue(vid, queue, pkts, count);
    if (sent) rte_pktmbuf_free_bulk(pkts, sent);
    return sent;
  }

  const std::string path_;
  const bool client_;
  const bool no_reconnect_;
  const uint16_t configured_queues_;
  const PluginContext context_;
  std::unique_ptr<QueueCounters[]> counters_;  // kMaxQueues
  // Read by the polling cores once per burst.
  std::atomic<int> vid_{-1};               // active device, -1 if none
  std::atomic<uint32_t> rx_mask_{0};       // its enabled rings, bit per queue pair
  std::atomic<uint32_t> tx_mask_{0};
  std::atomic<uint32_t> tx_offloads_{0};  // what it accepts (offload.h)
  std::atomic<uint16_t> max_seen_queues_{0};
  // Event thread writes, status reads.
  mutable absl::Mutex mu_;
  std::map<int, Connection> connections_ ABSL_GUARDED_BY(mu_);
  uint64_t connects_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t disconnects_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t feature_changes_ ABSL_GUARDED_BY(mu_) = 0;
  std::string control_error_ ABSL_GUARDED_BY(mu_);  // why the last control channel was dropped
  uint64_t dropped_control_channels_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_connections_ ABSL_GUARDED_BY(mu_) = 0;
  bool gave_up_ ABSL_GUARDED_BY(mu_) = false;
  // Written by the control thread before the watcher runs checks, then by those checks.
  std::atomic<bool> registered_{false};
  std::function<bool()> register_again_;  // set before the watcher runs checks
  GuestFaultWatcher* const watcher_;
  GuestMemoryPort memory_;
};

int OnNewConnection(int vid) {
  int result = 0;
  Sockets::Get().WithBackend(vid, [&](VhostUserBackend& b) { result = b.OnNewConnection(vid); });
  return result;
}
void OnDestroyConnection(int vid) {
  Sockets::Get().WithBackend(vid, [vid](VhostUserBackend& b) { b.OnDestroyConnection(vid); });
}
void OnNewDevice(int vid) { Sockets::Get().WithBackend(vid, [vid](VhostUserBackend& b) { b.OnNewDevice(vid); }); }
void OnDestroyDevice(int vid) { Sockets::Get().WithBackend(vid, [vid](VhostUserBackend& b) { b.OnDestroyDevice(vid); }); }
void OnVringState(int vid, uint16_t vring, int enable) {
  Sockets::Get().WithBackend(vid, [vid, vring, enable](VhostUserBackend& b) { b.OnVringState(vid, vring, enable != 0); });
}
void OnFeaturesChanged(int vid, uint64_t /*features*/) {
  Sockets::Get().WithBackend(vid, [](VhostUserBackend& b) { b.OnFeaturesChanged(); });
}
int OnCheckMemTable(int vid, const vhostd_vhost_msg* msg) {
  int result = 1;
  Sockets::Get().WithBackend(vid, [&](VhostUserBackend& b) { result = b.OnCheckMemTable(vid, *msg); });
  if (result == 1) result = CheckMemTable(*msg).refusal.empty() ? 0 : -1;  // a connection without a port
  return result;
}
void OnControlRefused(int vid, const char* reason) {
  Sockets::Get().WithBackend(vid, [&](VhostUserBackend& b) { b.OnControlRefused(vid, reason); });
}
int OnMemTableMapped(int vid) {
  int result = 0;
  Sockets::Get().WithBackend(vid, [&](VhostUserBackend& b) { result = b.OnMemTableMapped(vid); });
  return result;
}

// The process's SIGBUS guard and the thread that acts on its faults, started with the
// first plugin instance and kept until exit (the handler may run until then).
GuestFaultWatcher* StartGuestMemoryGuard() {
  static GuestFaultWatcher* watcher = [] {
    if (absl::Status installed = GuestMemoryGuard::Get().Install(); !installed.ok()) {
      fprintf(stderr, "vhost-user: %s: a frontend truncating its memory can crash the daemon\n",
              installed.ToString().c_str());
    }
    return new GuestFaultWatcher(GuestMemoryGuard::Get(), absl::Milliseconds(100));
  }();
  return watcher;
}

class VhostUserPlugin : public TypedPortPlugin<VhostUserSpec> {
 public:
  VhostUserPlugin(std::string socket_dir, const SocketAccess& socket_access)
      : socket_dir_(std::move(socket_dir)), socket_access_(socket_access), watcher_(StartGuestMemoryGuard()) {
    vhostd_vhost_events events = {&OnNewConnection, &OnDestroyConnection, &OnNewDevice,
                                  &OnDestroyDevice, &OnVringState,        &OnFeaturesChanged};
    events.check_mem_table = &OnCheckMemTable;
    events.mem_table_mapped = &OnMemTableMapped;
    events.control_refused = &OnControlRefused;
    vhostd_vhost_set_events(&events);
  }

  const google::protobuf::Descriptor* status_type() const override { return VhostUserStatus::descriptor(); }

 protected:
  absl::Status NormalizeSpec(const std::string& /*port_name*/, VhostUserSpec& spec) const override {
    absl::StatusOr<std::string> path = ResolveSocketPath(spec.socket_path(), socket_dir_, "socket_path");
    if (!path.ok()) return path.status();
    spec.set_socket_path(*path);
    if (!VhostUserSpec::Mode_IsValid(spec.mode())) {
      return absl::InvalidArgumentError(absl::StrCat("mode: unknown value ", spec.mode()));
    }
    if (spec.mode() == VhostUserSpec::MODE_UNSPECIFIED) spec.set_mode(VhostUserSpec::MODE_SERVER);
    if (absl::Status s = NormalizeSocketAccess(spec.mode() == VhostUserSpec::MODE_SERVER, spec.mutable_socket_mode(),
                                               spec.socket_owner(), spec.socket_group());
        !s.ok()) {
      return s;
    }
    if (!spec.has_checksum()) spec.set_checksum(true);
    if (spec.no_reconnect() && spec.mode() != VhostUserSpec::MODE_CLIENT) {
      return absl::InvalidArgumentError("no_reconnect: only for mode client");
    }
    if (spec.tso() && !spec.checksum()) {
      return absl::InvalidArgumentError("tso: needs checksum offload (checksum is off)");
    }
    if (absl::Status s = NormalizeQueueCount(spec); !s.ok()) return s;
    if (spec.linear_buffer() && spec.ext_buffer()) {
      return absl::InvalidArgumentError("ext_buffer: cannot be combined with linear_buffer");
    }
    return absl::OkStatus();
  }

  std::string SpecResource(const VhostUserSpec& spec) const override { return spec.socket_path(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> OpenSpec(const std::string& /*port_name*/, const VhostUserSpec& spec,
                                                        const PluginContext& context) override {
    const bool client = spec.mode() == VhostUserSpec::MODE_CLIENT;
    if (!client) {
      absl::Status cleared = ClearStaleSocket(spec.socket_path(), "socket_path");
      if (!cleared.ok()) return cleared;
    }
    // Released by the backend's destructor.
    if (absl::Status room = FdSlots::Get().Reserve(FdSlots::PerSocket(client)); !room.ok()) return room;
    auto backend = std::make_unique<VhostUserBackend>(spec.socket_path(), spec, context, watcher_);
    Sockets::Get().Add(spec.socket_path(), backend.get());
    const vhostd_vhost_options options = {client,
                                          spec.iommu_support(),
                                          spec.postcopy_support(),
                                          spec.linear_buffer(),
                                          spec.ext_buffer(),
                                          spec.checksum(),
                                          spec.tso(),
                                          !spec.disable_mrg_rxbuf(),
                                          spec.no_reconnect()};
    bool registered = false;
    absl::Status started = Register(spec, options, &registered);
    // From here the backend's destructor unregisters (and removes the socket); after a
    // guest memory fault it registers the socket again the same way.
    if (registered) {
      backend->MarkRegistered([this, spec, options] {
        bool again = false;
        if (spec.mode() == VhostUserSpec::MODE_CLIENT || ClearStaleSocket(spec.socket_path(), "socket_path").ok()) {
          Register(spec, options, &again).IgnoreError();
        }
        return again;
      });
    }
    if (!started.ok()) return started;
    return std::unique_ptr<PortBackend>(std::move(backend));
  }

 private:
  // Registers the socket with lib/vhost; *registered says whether lib/vhost took it (then
  // it must be stopped again, even if the status is an error).
  absl::Status Register(const VhostUserSpec& spec, const vhostd_vhost_options& options, bool* registered) const {
    *registered = false;
    const auto start = [&] { return *registered = vhostd_vhost_start(spec.socket_path().c_str(), &options) == 0; };
    absl::Status access = absl::OkStatus();
    if (options.client) {
      start();
    } else {
      access = CreateSocket(spec, start);
    }
    if (!access.ok()) return access;
    if (!*registered) {
      return absl::FailedPreconditionError(absl::StrCat("socket_path: lib/vhost could not ",
                                                        options.client ? "register " : "listen on ", spec.socket_path(),
                                                        " (see the daemon log)"));
    }
    return absl::OkStatus();
  }

  // Server mode: lib/vhost creates the socket with the spec's (or the daemon's) mode,
  // owner and group, never more open meanwhile (socket_access.h).
  absl::Status CreateSocket(const VhostUserSpec& spec, const std::function<bool()>& start) const {
    absl::StatusOr<SocketAccess> access =
        SocketAccessFor(spec.socket_mode(), spec.socket_owner(), spec.socket_group(), socket_access_);
    if (!access.ok()) return access.status();
    return CreateWithAccess(spec.socket_path(), *access, start);
  }

  const std::string socket_dir_;
  const SocketAccess socket_access_;  // the daemon's --socket-mode, --socket-owner, --socket-group
  GuestFaultWatcher* const watcher_;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeVhostUserPlugin(const std::string& socket_dir, const SocketAccess& socket_access) {
  return std::make_unique<VhostUserPlugin>(socket_dir, socket_access);
}

}  // namespace vhostd
