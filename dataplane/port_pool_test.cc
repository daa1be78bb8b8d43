#include "dataplane/port_pool.h"

#include <rte_config.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "absl/strings/match.h"
#include "dataplane/test_eal.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

class PortPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitTestEal(); }
};

TEST_F(PortPoolTest, SizeCoversRingsInFlightAndCaches) {
  const unsigned one = PortPoolSize(1, 1024);
  EXPECT_GE(one, 2u * 1024 + rte_lcore_count() * 256);
  EXPECT_EQ(PortPoolSize(4, 1024) - one, 3u * 2 * 1024) << "grows with the queues, not a fixed share";
}

TEST_F(PortPoolTest, APoolThatDoesNotFitIsResourceExhaustedNamingTheField) {
  // 16 queue pairs of 32768 descriptors: about 2.5 GiB, more than the test's 256 MiB.
  absl::StatusOr<rte_mempool*> pool = CreatePortPool(16, 32768, "port.vhost_kernel.queues");
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StartsWith(pool.status().message(), "port.vhost_kernel.queues: cannot allocate"))
      << pool.status();
  EXPECT_TRUE(absl::StrContains(pool.status().message(), "MiB")) << pool.status();
}

TEST_F(PortPoolTest, APoolIsFreedOnlyAfterItsLastBufferCameBack) {
  absl::StatusOr<rte_mempool*> pool = CreatePortPool(1, 256, "f");
  ASSERT_TRUE(pool.ok()) << pool.status();
  rte_mbuf* in_flight = rte_pktmbuf_alloc(*pool);  // e.g. in another port's tx ring
  ASSERT_NE(in_flight, nullptr);
  const size_t before = RetiredPortPools();
  ReleasePortPool(*pool);
  EXPECT_EQ(RetiredPortPools(), before + 1) << "still referenced: kept";
  rte_pktmbuf_free(in_flight);
  ReleasePortPool(nullptr);  // any later release (or create) sweeps
  EXPECT_EQ(RetiredPortPools(), before);
}

TEST_F(PortPoolTest, EveryPortGetsAPoolOfItsOwn) {
  absl::StatusOr<rte_mempool*> a = CreatePortPool(1, 256, "f");
  absl::StatusOr<rte_mempool*> b = CreatePortPool(1, 256, "f");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  ReleasePortPool(*a);
  ReleasePortPool(*b);
}

}  // namespace
}  // namespace vhostd
