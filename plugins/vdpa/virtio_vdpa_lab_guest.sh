# In-guest (after tests/lab/guest-prelude.sh): loads virtio_vdpa next to vhost_vdpa
# (the prelude loads vhost_vdpa first, so new vdpa devices still bind to it) and runs
# plugins/vdpa/virtio_vdpa_test.py for real. VHOSTD_REQUIRE_KERNEL=1 turns its skip
# into a failure. TEST_SRCDIR (passed in by the host) lets the test find the daemon, the
# CLI and the generated Python modules in Bazel's runfiles.

if labmod virtio_vdpa; then
  lab_ok virtio_vdpa_module
else
  lab_fail virtio_vdpa_module "labmod virtio_vdpa failed"
fi
if in_host_root env TEST_SRCDIR="${TEST_SRCDIR:-}" TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
     VHOSTD_REQUIRE_KERNEL=1 VHOSTD_TEST_MEM_MB=256 \
     /usr/bin/python3 plugins/vdpa/virtio_vdpa_test.py -v; then
  lab_ok virtio_vdpa_test
else
  lab_fail virtio_vdpa_test "see the unittest output above"
fi
