# In-guest (after guest-prelude.sh): the kernel-port integration tests run for real
# against this kernel's vhost_net, tun and vdpa_sim_net (lab_python_test: fallbacks and
# skips are failures here).

# vhost-kernel ports on vhost-net, vDPA ports on vdpa_sim_net.
lab_python_test kernel_ports_test tests/integration/kernel_ports_test.py

# vhostd-cni with vhost-kernel ports on vhost-net (no plain-tap fallback) and vDPA
# ports from a pool of vdpa_sim_net devices, driven as a runtime drives it.
lab_python_test cni_plugin_test tests/cni/cni_plugin_test.py

# The memlock raise vhost_vdpa ports need, unit-tested where root has CAP_SYS_RESOURCE
# (containers running the host suite often lack it, and that test then skips).
lab_check vdpa_device_test_memlock_raise in_host_root env VHOSTD_REQUIRE_KERNEL=1 \
  "$TEST_SRCDIR/$TEST_WORKSPACE/plugins/vdpa/vdpa_device_test" \
  --gtest_filter=EnsureMemlockUnlimitedTest.RaisesToUnlimitedWhenAllowed
