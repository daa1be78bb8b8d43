// DPDK Environment Abstraction Layer set-up for the daemon.
#ifndef VHOSTD_DATAPLANE_EAL_H_
#define VHOSTD_DATAPLANE_EAL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vhostd {

struct EalOptions {
  std::vector<int> poll_cpus;      // CPUs that get a polling lcore each
  std::vector<int> online_cpus;    // all CPUs the daemon may use
  bool hugepages_available = false;
  std::string file_prefix = "vhostd";
  int memory_mb = 1024;            // used with --no-huge
  std::string extra_args;          // whitespace-separated, appended last (may override)
};

// Parses a CPU list such as "1", "1,3" or "2-5,7". Errors name `field`.
absl::StatusOr<std::vector<int>> ParseCpuList(const std::string& text, const std::string& field);

// Builds the EAL argv (without argv[0]). Lcore 0 is the main lcore (control and gRPC
// threads) and floats over the CPUs that do not poll (all CPUs if every CPU polls);
// lcores 1..N are the polling cores, pinned one per CPU in `poll_cpus`.
absl::StatusOr<std::vector<std::string>> BuildEalArgs(const EalOptions& options);

// True when a hugetlbfs is mounted and has free pages.
bool HugepagesAvailable();

// The CPUs this process may run on.
std::vector<int> OnlineCpus();

// Runs rte_eal_init with `args`. Safe to call once per process.
absl::Status InitEal(const std::vector<std::string>& args);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_EAL_H_
