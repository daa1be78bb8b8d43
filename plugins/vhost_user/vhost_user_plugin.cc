#include "plugins/vhost_user/vhost_user_plugin.h"

#include <rte_config.h>
#include <rte_mbuf.h>

#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/offload.h"
#include "dataplane/virtio_features.h"
#include "plugins/vhost_user/socket_path.h"
#include "plugins/vhost_user/vhost_lib.h"

namespace vhostd {
namespace {

using vhostd::v1::Port;
using vhostd::v1::PortStatus;
using vhostd::v1::VhostUserSpec;

constexpr char kField[] = "port.vhost_user";

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

// One vhost-user socket served by lib/vhost directly. The polling cores read `vid_`
// once per burst; lib/vhost's event thread sets it on new_device and clears it on
// destroy_device, then waits for the cores to pass a quiescent point before returning,
// because lib/vhost frees the virtqueues right after (see WaitForQuiescence).
class VhostUserBackend : public PortBackend {
 public:
  VhostUserBackend(std::string path, bool client, uint16_t queues, const PluginContext& context)
      : path_(std::move(path)),
        client_(client),
        queues_(queues),
        context_(context),
        counters_(new QueueCounters[queues]),
        rx_enabled_(new std::atomic<bool>[queues]),
        tx_enabled_(new std::atomic<bool>[queues]) {
    for (uint16_t q = 0; q < queues; ++q) {
      rx_enabled_[q].store(false);
      tx_enabled_[q].store(false);
    }
  }

  // Unregisters the socket (lib/vhost runs destroy_device first if a frontend is
  // attached, while this object is still whole), then stops routing its events here.
  ~VhostUserBackend() override {
    if (registered_) vhostd_vhost_stop(path_.c_str());
    Sockets::Get().Remove(path_);
  }

  void MarkRegistered() { registered_ = true; }

  uint16_t queues() const override { return queues_; }
  QueueCounters* counters() override { return counters_.get(); }
  DriverStats ReadDriverStats() const override { return {}; }
  PortIo io() const override {
    return PortIo{&Receive, &Transmit, const_cast<VhostUserBackend*>(this), &tx_offloads_};
  }

  void FillStatus(PortStatus* status) const override {
    const int vid = vid_.load(std::memory_order_acquire);
    status->set_backend("vhost-user");
    status->set_state(vid >= 0 ? PortStatus::UP : PortStatus::WAITING_FOR_PEER);
    if (vid < 0) {
      status->set_message(client_ ? "connecting to the frontend's socket" : "waiting for a frontend to connect");
    }
    uint64_t features = 0;
    if (vid >= 0 && vhostd_vhost_negotiated_features(vid, &features) == 0) {
      status->set_negotiated_features(features);
      for (std::string& name : VirtioFeatureNames(features)) status->add_negotiated_feature_names(std::move(name));
    }
    for (uint16_t q = 0; q < queues_; ++q) {
      vhostd::v1::QueueStatus* queue = status->add_queues();
      queue->set_queue(q);
      queue->set_rx_enabled(vid >= 0 && rx_enabled_[q].load(std::memory_order_relaxed));
      queue->set_tx_enabled(vid >= 0 && tx_enabled_[q].load(std::memory_order_relaxed));
    }
    status->set_frontend_connects(connects_.load(std::memory_order_relaxed));
    status->set_frontend_disconnects(disconnects_.load(std::memory_order_relaxed));
  }

  // lib/vhost events (its event thread). They only record state and return.
  void OnNewDevice(int vid) {
    uint64_t features = 0;
    vhostd_vhost_negotiated_features(vid, &features);
    tx_offloads_.store(TxOffloadsFromVirtioFeatures(features), std::memory_order_relaxed);
    vid_.store(vid, std::memory_order_release);
    connects_.fetch_add(1, std::memory_order_relaxed);
  }

  void OnDestroyDevice() {
    vid_.store(-1, std::memory_order_seq_cst);
    // A core may be inside a burst that read the old vid: let it finish.
    if (context_.quiescence) context_.quiescence->WaitForQuiescence();
    tx_offloads_.store(0, std::memory_order_relaxed);
    for (uint16_t q = 0; q < queues_; ++q) {
      rx_enabled_[q].store(false, std::memory_order_relaxed);
      tx_enabled_[q].store(false, std::memory_order_relaxed);
    }
    disconnects_.fetch_add(1, std::memory_order_relaxed);
  }

  void OnVringState(uint16_t vring, bool enable) {
    const uint16_t q = vring / 2;
    if (q >= queues_) return;  // the frontend has more queues than this port serves
    // Odd rings are the frontend's transmit rings: vhostd receives from them.
    (vring % 2 ? rx_enabled_ : tx_enabled_)[q].store(enable, std::memory_order_relaxed);
  }

 private:
  static uint16_t Receive(void* self, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<VhostUserBackend*>(self);
    const int vid = port->vid_.load(std::memory_order_acquire);
    if (vid < 0) return 0;
    return vhostd_vhost_dequeue(vid, queue, port->context_.mbuf_pool, pkts, count);
  }

  // lib/vhost copies into the frontend's buffers: the sent mbufs are freed here.
  static uint16_t Transmit(void* self, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
    auto* port = static_cast<VhostUserBackend*>(self);
    const int vid = port->vid_.load(std::memory_order_acquire);
    if (vid < 0) return 0;
    const uint16_t sent = vhostd_vhost_enqueue(vid, queue, pkts, count);
    if (sent) rte_pktmbuf_free_bulk(pkts, sent);
    return sent;
  }

  const std::string path_;
  const bool client_;
  const uint16_t queues_;
  const PluginContext context_;
  std::unique_ptr<QueueCounters[]> counters_;
  std::unique_ptr<std::atomic<bool>[]> rx_enabled_;
  std::unique_ptr<std::atomic<bool>[]> tx_enabled_;
  std::atomic<int> vid_{-1};
  std::atomic<uint32_t> tx_offloads_{0};  // what the frontend accepts (offload.h)
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> disconnects_{0};
  bool registered_ = false;
};

void OnNewDevice(int vid) { Sockets::Get().WithBackend(vid, [vid](VhostUserBackend& b) { b.OnNewDevice(vid); }); }
void OnDestroyDevice(int vid) { Sockets::Get().WithBackend(vid, [](VhostUserBackend& b) { b.OnDestroyDevice(); }); }
void OnVringState(int vid, uint16_t vring, int enable) {
  Sockets::Get().WithBackend(vid, [vring, enable](VhostUserBackend& b) { b.OnVringState(vring, enable != 0); });
}

class VhostUserPlugin : public PortPlugin {
 public:
  explicit VhostUserPlugin(std::string socket_dir) : socket_dir_(std::move(socket_dir)) {
    const vhostd_vhost_events events = {&OnNewDevice, &OnDestroyDevice, &OnVringState};
    vhostd_vhost_set_events(&events);
  }

  PluginInfo Info() const override {
    return {"vhost-user", "2.0.0", "vhost-user backend on a Unix socket (server or client mode), DPDK lib/vhost"};
  }

  absl::Status Normalize(Port& port) const override {
    VhostUserSpec& spec = *port.mutable_vhost_user();
    absl::StatusOr<std::string> path =
        ResolveSocketPath(spec.socket_path(), socket_dir_, absl::StrCat(kField, ".socket_path"));
    if (!path.ok()) return path.status();
    spec.set_socket_path(*path);
    if (!VhostUserSpec::Mode_IsValid(spec.mode())) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ".mode: unknown value ", spec.mode()));
    }
    if (spec.mode() == VhostUserSpec::MODE_UNSPECIFIED) spec.set_mode(VhostUserSpec::MODE_SERVER);
    if (!spec.has_checksum()) spec.set_checksum(true);
    if (spec.tso() && !spec.checksum()) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ".tso: needs checksum offload (checksum is off)"));
    }
    if (absl::Status s = NormalizeQueueCount(spec, absl::StrCat(kField, ".queues")); !s.ok()) return s;
    if (spec.linear_buffer() && spec.ext_buffer()) {
      return absl::InvalidArgumentError(absl::StrCat(kField, ".ext_buffer: cannot be combined with linear_buffer"));
    }
    return absl::OkStatus();
  }

  std::string ExclusiveResource(const Port& port) const override { return port.vhost_user().socket_path(); }

  absl::StatusOr<std::unique_ptr<PortBackend>> Open(const Port& port, const PluginContext& context) override {
    const VhostUserSpec& spec = port.vhost_user();
    const bool client = spec.mode() == VhostUserSpec::MODE_CLIENT;
    if (!client) {
      absl::Status cleared = ClearStaleSocket(spec.socket_path(), absl::StrCat(kField, ".socket_path"));
      if (!cleared.ok()) return cleared;
    }
    auto backend = std::make_unique<VhostUserBackend>(spec.socket_path(), client,
                                                      static_cast<uint16_t>(spec.queues()), context);
    Sockets::Get().Add(spec.socket_path(), backend.get());
    const vhostd_vhost_options options = {client,
                                          spec.iommu_support(),
                                          spec.postcopy_support(),
                                          spec.linear_buffer(),
                                          spec.ext_buffer(),
                                          spec.checksum(),
                                          spec.tso(),
                                          !spec.disable_mrg_rxbuf()};
    if (vhostd_vhost_start(spec.socket_path().c_str(), &options) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(kField, ".socket_path: lib/vhost could not ",
                                                        client ? "register " : "listen on ", spec.socket_path(),
                                                        " (see the daemon log)"));
    }
    backend->MarkRegistered();
    return std::unique_ptr<PortBackend>(std::move(backend));
  }

 private:
  const std::string socket_dir_;
};

}  // namespace

std::unique_ptr<PortPlugin> MakeVhostUserPlugin(const std::string& socket_dir) {
  return std::make_unique<VhostUserPlugin>(socket_dir);
}

}  // namespace vhostd
