# In-guest (after guest-prelude.sh): the kernel-port integration tests,
# tests/integration/kernel_ports_test.py, run for real against this kernel's vhost_net,
# tun and vdpa_sim_net. VHOSTD_REQUIRE_KERNEL=1 turns the test's "no vhost-net / no vDPA
# here" fallbacks and skips into failures. TEST_SRCDIR (passed in by the host) lets the
# test find the daemon, the CLI and the generated Python modules in Bazel's runfiles.

if in_host_root env TEST_SRCDIR="${TEST_SRCDIR:-}" TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
     VHOSTD_REQUIRE_KERNEL=1 VHOSTD_TEST_MEM_MB=256 \
     /usr/bin/python3 tests/integration/kernel_ports_test.py -v; then
  lab_ok kernel_ports_test
else
  lab_fail kernel_ports_test "see the unittest output above"
fi
