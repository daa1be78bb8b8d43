# In-guest (after guest-prelude.sh): the kernel-port integration tests,
# tests/integration/kernel_ports_test.py and tests/cni/cni_plugin_test.py, run for real against this kernel's vhost_net,
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

# vhostd-cni with vhost-kernel ports on vhost-net (no plain-tap fallback) and vDPA
# ports from a pool of vdpa_sim_net devices, driven as a runtime drives it.
if in_host_root env TEST_SRCDIR="${TEST_SRCDIR:-}" TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
     VHOSTD_REQUIRE_KERNEL=1 VHOSTD_TEST_MEM_MB=256 \
     /usr/bin/python3 tests/cni/cni_plugin_test.py -v; then
  lab_ok cni_plugin_test
else
  lab_fail cni_plugin_test "see the unittest output above"
fi

# The memlock raise vhost_vdpa ports need, unit-tested where root has CAP_SYS_RESOURCE
# (containers running the host suite often lack it, and that test then skips).
if in_host_root env VHOSTD_REQUIRE_KERNEL=1 \
     "$TEST_SRCDIR/$TEST_WORKSPACE/plugins/vdpa/vdpa_device_test" \
     --gtest_filter=EnsureMemlockUnlimitedTest.RaisesToUnlimitedWhenAllowed; then
  lab_ok vdpa_device_test memlock raise
else
  lab_fail vdpa_device_test "RaisesToUnlimitedWhenAllowed failed (see above)"
fi
