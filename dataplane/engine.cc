#include "dataplane/engine.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "dataplane/bridge.h"
#include "dataplane/bridge_forward.h"
#include "dataplane/tx_lanes.h"

namespace vhostd {
namespace {

// Room for 2048 bytes of packet plus headroom: a 1518-byte frame fits one segment.
constexpr uint16_t kMbufDataRoom = RTE_MBUF_DEFAULT_BUF_SIZE;
constexpr unsigned kMbufCache = 256;
// Software segmentation (offload.h) references payloads through indirect mbufs, which
// carry no data room; a 64 KiB frame takes ~45, a burst of them ~1,400 (some wait in
// transmit backlogs).
constexpr unsigned kIndirectMbufs = 16384;
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(2);
// Queue shares in Cores(): samples 5 s apart over a minute, as OVS's pmd-rxq-show.
constexpr absl::Duration kLoadInterval = absl::Seconds(5);
constexpr absl::Duration kLoadWindow = absl::Minutes(1);

uint64_t CyclesIn(absl::Duration d) { return static_cast<uint64_t>(absl::ToDoubleSeconds(d) * rte_get_tsc_hz()); }

// Two entries are the same work if they read and write the same queues of the same
// ports through the same functions, counting in the same counters (and, for a bridge
// port, with the same view of its bridge: a new view is new work).
// The tx queue and whether it is shared (and a bridge entry's lanes) are part of the
// work: an entry that changes them moves through both phases like one that changes core.
using EntryKey = std::tuple<PortIo::RxBurst, const void*, uint16_t, PortIo::TxBurst, const void*, uint16_t,
                            const QueueCounters*, const QueueCounters*, const std::atomic<uint32_t>*,
                            const BridgeView*, bool, const TxLane*>;

EntryKey KeyOf(const PollEntry& e) {
  return {e.rx_port.rx,     e.rx_port.context, e.rx_queue,   e.tx_port.tx,
          e.tx_port.context, e.tx_queue,       e.rx_counters, e.tx_counters,
          e.tx_port.tx_offloads, e.bridge,      e.tx_shared,  e.bridge_lanes};
}

// Whose state an entry carries: its receive queue (polled by one entry at a time) and
// where it sends, but not which tx queue there or which bridge view, which a change of
// lanes or of membership replaces while the flow stays. So a queue that moves keeps
// its busy cycles (monotonic, and its load history) and the segments waiting in its
// backlog.
using StateKey = std::tuple<PortIo::RxBurst, const void*, uint16_t, const QueueCounters*, const void*, bool>;

StateKey StateKeyOf(const PollEntry& e) {
  return {e.rx_port.rx, e.rx_port.context, e.rx_queue, e.rx_counters, e.tx_port.context, e.bridge != nullptr};
}

// The state of every entry the cores' programs have: an entry that stays, on its core
// or on another, keeps its state (and the segments waiting in it). It is handed to
// another core only in phase 2, when the core that had it acknowledged phase 1 and so
// runs none of these programs any more (an entry whose work changed, like one that
// moves, is left out of phase 1).
using StateMap = std::map<StateKey, std::shared_ptr<EntryState>>;

void AddStates(const InstalledProgram& program, StateMap& states) {
  for (size_t i = 0; i < program.states.size(); ++i) states[StateKeyOf(program.program->entries[i])] = program.states[i];
}

StateMap StatesOf(const std::vector<std::unique_ptr<PollCore>>& cores) {
  StateMap states;
  for (const auto& core : cores) {
    // Retired programs too: a core that missed a handshake left its entries there.
    for (const auto& retired : core->retired()) AddStates(*retired, states);
    AddStates(core->installed(), states);
  }
  return states;
}

std::unique_ptr<InstalledProgram> Install(CoreProgram program, const StateMap& states) {
  std::vector<std::shared_ptr<EntryState>> kept;
  for (const PollEntry& e : program.entries) {
    auto it = states.find(StateKeyOf(e));
    kept.push_back(it == states.end() ? nullptr : it->second);
  }
  return std::make_unique<InstalledProgram>(std::make_unique<CoreProgram>(std::move(program)), std::move(kept));
}

// Phase 1's program for a core: the entries of `installed` that `next` keeps.
CoreProgram Kept(const CoreProgram& installed, const CoreProgram& next) {
  std::set<EntryKey> wanted;
  for (const PollEntry& e : next.entries) wanted.insert(KeyOf(e));
  CoreProgram kept;
  kept.lane_tables = installed.lane_tables;  // what kept bridge entries point into
  for (size_t i = 0; i < installed.entries.size(); ++i) {
    if (!wanted.count(KeyOf(installed.entries[i]))) continue;
    kept.entries.push_back(installed.entries[i]);
    kept.labels.push_back(installed.labels[i]);
  }
  return kept;
}

bool SameEntries(const CoreProgram& a, const CoreProgram& b) {
  std::multiset<EntryKey> ka, kb;
  for (const PollEntry& e : a.entries) ka.insert(KeyOf(e));
  for (const PollEntry& e : b.entries) kb.insert(KeyOf(e));
  return ka == kb;
}

// A transmit queue an entry may write: (port, queue), and whether it takes the lock.
struct TxWrite {
  std::pair<const void*, uint16_t> queue;
  bool shared;
  std::string port;  // name, for the error
};

// What `e` may write: its tx queue, or for a bridge entry the queue its lane gives it
// on every other member that takes traffic.
std::vector<TxWrite> WritesOf(const PollEntry& e, const PollLabel& label) {
  if (e.bridge == nullptr) return {{{e.tx_port.context, e.tx_queue}, e.tx_shared, label.tx_port}};
  std::vector<TxWrite> writes;
  for (uint16_t slot = 0; slot < e.bridge->members.size(); ++slot) {
    const BridgeMember& m = e.bridge->members[slot];
    if (slot == e.bridge_slot || !TakesTraffic(m)) continue;
    const TxChoice c = BridgeTxQueue(e, slot);
    writes.push_back({{m.io.context, c.queue}, c.shared, m.name});
  }
  return writes;
}

// The planner's promise, checked before anything changes: each receive queue polled
// once, and a transmit queue written from two cores only by entries that all take its
// lock.
absl::Status CheckExclusive(const std::vector<CoreProgram>& programs) {
  std::map<std::pair<const void*, uint16_t>, size_t> rx_core;
  struct Writers {
    std::set<size_t> cores;
    bool all_shared = true;
    std::string port;
  };
  std::map<std::pair<const void*, uint16_t>, Writers> tx_writers;
  for (size_t c = 0; c < programs.size(); ++c) {
    const CoreProgram& p = programs[c];
    if (p.labels.size() != p.entries.size()) {
      return absl::InvalidArgumentError(absl::StrCat("program ", c, ": ", p.entries.size(), " entries but ",
                                                     p.labels.size(), " labels"));
    }
    for (size_t i = 0; i < p.entries.size(); ++i) {
      const PollEntry& e = p.entries[i];
      const PollLabel& l = p.labels[i];
      if (!rx_core.emplace(std::make_pair(e.rx_port.context, e.rx_queue), c).second) {
        return absl::InvalidArgumentError(absl::StrCat("rx queue ", l.rx_queue, " of ", l.rx_port, " is polled twice"));
      }
      for (const TxWrite& w : WritesOf(e, l)) {
        Writers& writers = tx_writers[w.queue];
        writers.cores.insert(c);
        writers.all_shared = writers.all_shared && w.shared;
        writers.port = w.port;
      }
    }
  }
  for (const auto& [queue, writers] : tx_writers) {
    if (writers.cores.size() < 2 || writers.all_shared) continue;
    return absl::InvalidArgumentError(absl::StrCat("tx queue ", queue.second, " of ", writers.port,
                                                   " is written from cores ", absl::StrJoin(writers.cores, " and "),
                                                   " without its lock"));
  }
  return absl::OkStatus();
}

}  // namespace

Engine::Engine(rte_mempool* pool, std::vector<std::unique_ptr<PollCore>> cores)
    : pool_(pool), cores_(std::move(cores)), posted_(cores_.size()), load_window_(CyclesIn(kLoadInterval), CyclesIn(kLoadWindow)) {}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Start(unsigned mbufs) {
  rte_mempool* pool =
      rte_pktmbuf_pool_create("vhostd_mbufs", mbufs, kMbufCache, 0, kMbufDataRoom, static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot create a pool of ", mbufs, " mbufs: ",
                                                     rte_strerror(rte_errno), " (raise EAL memory with -m)"));
  }
  rte_mempool* indirect =
      rte_pktmbuf_pool_create("vhostd_indirect", kIndirectMbufs, kMbufCache, 0, 0, static_cast<int>(rte_socket_id()));
  if (indirect == nullptr) {
    rte_mempool_free(pool);
    return absl::ResourceExhaustedError(absl::StrCat("cannot create the segmentation pool of ", kIndirectMbufs,
                                                     " mbufs: ", rte_strerror(rte_errno), " (raise EAL memory)"));
  }
  const OffloadPools offload_pools{pool, indirect};
  std::vector<std::unique_ptr<PollCore>> cores;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) { cores.push_back(std::make_unique<PollCore>(lcore, offload_pools)); }
  if (cores.empty()) {
    rte_mempool_free(indirect);
    rte_mempool_free(pool);
    return absl::FailedPreconditionError("no polling core: EAL has no worker lcore");
  }
  for (auto& core : cores) {
    if (!core->Launch()) return absl::InternalError(absl::StrCat("cannot launch lcore ", core->lcore()));
  }
  return std::unique_ptr<Engine>(new Engine(pool, std::move(cores)));
}

std::unique_ptr<Engine> Engine::WithCores(std::vector<std::unique_ptr<PollCore>> cores) {
  for (auto& core : cores) {
    if (!core->Launch()) return nullptr;
  }
  return std::unique_ptr<Engine>(new Engine(nullptr, std::move(cores)));
}

Engine::~Engine() {
  for (auto& core : cores_) core->Stop();
  // The pool stays until EAL cleanup: ports closed after this may still hold mbufs.
}

absl::Status Engine::Apply(std::vector<CoreProgram> programs) {
  if (programs.size() > cores_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(programs.size(), " programs for ", cores_.size(), " cores"));
  }
  programs.resize(cores_.size());
  if (absl::Status s = CheckExclusive(programs); !s.ok()) return s;
  const StateMap states = StatesOf(cores_);
  std::vector<size_t> posted;
  for (size_t i = 0; i < cores_.size(); ++i) {
    CoreProgram kept = Kept(cores_[i]->program(), programs[i]);
    // A core that took its last program and loses nothing has nothing to let go of.
    if (kept.entries.size() == cores_[i]->program().entries.size() && cores_[i]->retired_programs() == 0) continue;
    PostProgram(i, Install(std::move(kept), states));
    posted.push_back(i);
  }
  if (absl::Status s = AwaitAll(posted, "let go of the queues that move (nothing moved)"); !s.ok()) return s;
  // Every core now runs only entries its new program has: none can meet another here.
  posted.clear();
  for (size_t i = 0; i < cores_.size(); ++i) {
    if (SameEntries(cores_[i]->program(), programs[i])) continue;
    PostProgram(i, Install(std::move(programs[i]), states));
    posted.push_back(i);
  }
  return AwaitAll(posted, "take its new program");
}

void Engine::PostProgram(size_t core, std::unique_ptr<InstalledProgram> program) {
  Posted posted{program->program->labels, {program->states.begin(), program->states.end()}};
  cores_[core]->Post(std::move(program));
  std::lock_guard<std::mutex> lock(mu_);
  std::swap(posted_[core], posted);  // the old record goes after the lock is released
}

absl::Status Engine::AwaitAll(const std::vector<size_t>& posted, const char* what) {
  const absl::Time deadline = absl::Now() + kHandshakeTimeout;
  std::vector<unsigned> late;
  for (size_t i : posted) {
    if (!cores_[i]->AwaitPosted(deadline)) late.push_back(cores_[i]->lcore());
  }
  if (late.empty()) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("polling lcore ", absl::StrJoin(late, ", "), " did not ", what, " in time"));
}

std::vector<CoreInfo> Engine::Cores() const {
  std::vector<CoreInfo> cores;
  std::vector<LoadWindow::Core> reading;
  std::lock_guard<std::mutex> lock(mu_);  // the records; counters are single-writer atomics
  for (size_t i = 0; i < cores_.size(); ++i) {
    const PollCore& core = *cores_[i];
    const CoreCounters& c = core.counters();
    CoreInfo info{core.lcore(),
                  static_cast<unsigned>(rte_lcore_to_cpu_id(core.lcore())),
                  posted_[i].labels,
                  {},
                  CounterRead(c.busy_cycles),
                  CounterRead(c.idle_cycles),
                  CounterRead(c.sleep_cycles),
                  CounterRead(c.packets),
                  {}};
    for (const auto& count : c.batch_sizes) info.batch_sizes.push_back(CounterRead(count));
    // A queue's share is of all the core's cycles, the slept ones too.
    reading.push_back({info.busy_cycles + info.idle_cycles + info.sleep_cycles, {}});
    for (const auto& state : posted_[i].states) reading.back().queues.push_back({state->id, CounterRead(state->busy_cycles)});
    cores.push_back(std::move(info));
  }
  const auto shares = load_window_.Update(rte_rdtsc(), reading);
  for (size_t i = 0; i < cores.size(); ++i) {
    for (size_t q = 0; q < shares[i].size(); ++q) cores[i].loads.push_back({reading[i].queues[q].busy_cycles, shares[i][q]});
  }
  return cores;
}

void Engine::SetLoadWindow(absl::Duration interval, absl::Duration window) {
  std::lock_guard<std::mutex> lock(mu_);
  load_window_ = LoadWindow(CyclesIn(interval), CyclesIn(window));
}

uint64_t Engine::tsc_hz() const { return rte_get_tsc_hz(); }

uint64_t Engine::mbufs_in_use() const { return pool_ == nullptr ? 0 : rte_mempool_in_use_count(pool_); }

void Engine::SetSleepMax(uint32_t microseconds) {
  for (const auto& core : cores_) core->SetSleepMax(microseconds);
}

void Engine::WaitForQuiescence() {
  for (const auto& core : cores_) {
    if (!core->WaitForIteration(kHandshakeTimeout)) {
      fprintf(stderr, "vhostd: polling lcore %u did not complete an iteration in time\n", core->lcore());
    }
  }
}

}  // namespace vhostd
