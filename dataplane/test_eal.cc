#include "dataplane/test_eal.h"

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace vhostd {

void InitTestEal(unsigned worker_lcores) {
  static bool initialised = false;
  if (initialised) return;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const std::string lcores = "(0-" + std::to_string(worker_lcores) + ")@(0-" + std::to_string(cpus - 1) + ")";
  const std::string prefix = "--file-prefix=vhostd-unit-" + std::to_string(getpid());
  std::vector<std::string> args = {"unit-test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                   "--lcores", lcores, prefix, "--log-level=*:warning"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    fprintf(stderr, "test EAL: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    abort();
  }
  initialised = true;
}

rte_mempool* MakeTestPool(const char* name, unsigned count, unsigned data_room) {
  rte_mempool* pool = rte_pktmbuf_pool_create(name, count, 0, 0, static_cast<uint16_t>(data_room), SOCKET_ID_ANY);
  if (pool == nullptr) {
    fprintf(stderr, "test EAL: cannot create pool %s: %s\n", name, rte_strerror(rte_errno));
    abort();
  }
  return pool;
}

}  // namespace vhostd
