#include "dataplane/engine.h"

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "absl/strings/str_cat.h"

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

}  // namespace

Engine::Engine(rte_mempool* pool, std::vector<std::unique_ptr<PollCore>> cores)
    : pool_(pool), cores_(std::move(cores)) {}

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

Engine::~Engine() {
  for (auto& core : cores_) core->Stop();
  // The pool stays until EAL cleanup: ports closed after this may still hold mbufs.
}

absl::Status Engine::Apply(std::vector<CoreProgram> programs) {
  absl::Status status;
  for (size_t i = 0; i < cores_.size(); ++i) {
    auto program = std::make_unique<CoreProgram>(i < programs.size() ? std::move(programs[i]) : CoreProgram{});
    if (!cores_[i]->Publish(std::move(program), kHandshakeTimeout)) {
      status = absl::DeadlineExceededError(absl::StrCat("polling lcore ", cores_[i]->lcore(),
                                                        " did not take its new program in time"));
    }
  }
  return status;
}

std::vector<CoreInfo> Engine::Cores() const {
  std::vector<CoreInfo> cores;
  for (const auto& core : cores_) {
    const CoreCounters& c = core->counters();
    std::vector<uint64_t> batch_sizes;
    for (const auto& count : c.batch_sizes) batch_sizes.push_back(CounterRead(count));
    cores.push_back(CoreInfo{core->lcore(), static_cast<unsigned>(rte_lcore_to_cpu_id(core->lcore())),
                             core->program().labels, CounterRead(c.busy_cycles), CounterRead(c.idle_cycles),
                             CounterRead(c.packets), std::move(batch_sizes)});
  }
  return cores;
}

uint64_t Engine::tsc_hz() const { return rte_get_tsc_hz(); }

void Engine::WaitForQuiescence() {
  for (const auto& core : cores_) {
    if (!core->WaitForIteration(kHandshakeTimeout)) {
      fprintf(stderr, "vhostd: polling lcore %u did not complete an iteration in time\n", core->lcore());
    }
  }
}

}  // namespace vhostd
