#include "dataplane/eal.h"

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vhostd {

absl::StatusOr<std::vector<int>> ParseCpuList(const std::string& text, const std::string& field) {
  std::set<int> cpus;
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty CPU list"));
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    int first = 0, last = 0;
    if (!absl::SimpleAtoi(range[0], &first) ||
        !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &last) || first < 0 ||
        last < first || last >= RTE_MAX_LCORE) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": bad CPU list element \"", part, "\" (want e.g. 1,3 or 2-5)"));
    }
    for (int cpu = first; cpu <= last; ++cpu) cpus.insert(cpu);
  }
  return std::vector<int>(cpus.begin(), cpus.end());
}

absl::StatusOr<std::vector<std::string>> BuildEalArgs(const EalOptions& options) {
  if (options.poll_cpus.empty()) return absl::InvalidArgumentError("cores: at least one polling CPU is needed");
  if (options.poll_cpus.size() >= RTE_MAX_LCORE) return absl::InvalidArgumentError("cores: too many CPUs");
  std::vector<int> control_cpus;
  for (int cpu : options.online_cpus) {
    if (std::find(options.poll_cpus.begin(), options.poll_cpus.end(), cpu) == options.poll_cpus.end()) {
      control_cpus.push_back(cpu);
    }
  }
  for (int cpu : options.poll_cpus) {
    if (std::find(options.online_cpus.begin(), options.online_cpus.end(), cpu) == options.online_cpus.end()) {
      return absl::InvalidArgumentError(absl::StrCat("cores: CPU ", cpu, " is not available to this process"));
    }
  }
  // With every CPU polling, the control thread shares them (it sleeps most of the time).
  if (control_cpus.empty()) control_cpus = options.online_cpus;
  std::string lcores = absl::StrCat("0@(", absl::StrJoin(control_cpus, ","), ")");
  for (size_t i = 0; i < options.poll_cpus.size(); ++i) {
    absl::StrAppend(&lcores, ",", i + 1, "@", options.poll_cpus[i]);
  }
  std::vector<std::string> args = {"--lcores", lcores, "--main-lcore", "0",
                                   "--file-prefix", options.file_prefix, "--no-pci",
                                   // IOVA as VA: virtio_user (vhost-kernel, vDPA) hands
                                   // process addresses to the kernel.
                                   "--iova-mode", "va"};
  if (!options.hugepages_available) {
    args.insert(args.end(), {"--no-huge", "-m", absl::StrCat(options.memory_mb)});
  }
  for (absl::string_view extra : absl::StrSplit(options.extra_args, absl::ByAnyChar(" \t\n"), absl::SkipWhitespace())) {
    args.emplace_back(extra);
  }
  return args;
}

bool HugepagesAvailable() {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  bool mounted = false;
  while (std::getline(mounts, line)) {
    if (line.find(" hugetlbfs ") != std::string::npos) mounted = true;
  }
  if (!mounted) return false;
  std::ifstream meminfo("/proc/meminfo");
  while (std::getline(meminfo, line)) {
    long pages = 0;
    if (sscanf(line.c_str(), "HugePages_Free: %ld", &pages) == 1) return pages > 0;
  }
  return false;
}

std::vector<int> OnlineCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpu < RTE_MAX_LCORE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

absl::Status InitEal(const std::vector<std::string>& args) {
  std::vector<std::string> storage = {"vhostd"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
    return absl::InternalError(absl::StrCat("DPDK EAL initialisation failed (", rte_strerror(rte_errno),
                                            "); EAL arguments: ", absl::StrJoin(args, " ")));
  }
  return absl::OkStatus();
}

}  // namespace vhostd
