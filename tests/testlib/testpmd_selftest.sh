#!/usr/bin/env bash
# Self-test of tests/testlib/testpmd.py with two real dpdk-testpmd processes:
# A = net_vhost0/net_vhost1 backend (io fwd), B = two net_virtio_user ports on A's
# sockets driven through the library; "start tx_first" on B, packets must cross A
# in both directions.  Runs under "bazel test //tests/testlib:all" or directly.
set -euo pipefail

if [[ -n ${TEST_SRCDIR:-} ]]; then
    dir=$TEST_SRCDIR/${TEST_WORKSPACE:-vhostd}/tests/testlib
else
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fi
PYTHON=${PYTHON:-/usr/bin/python3}

command -v "${TESTPMD:-dpdk-testpmd}" >/dev/null || { echo "dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 1; }
(( $(getconf _NPROCESSORS_ONLN) >= 2 )) || { echo "needs 2 CPUs" >&2; exit 1; }

exec "$PYTHON" "$dir/testpmd_selftest.py" "$@"
