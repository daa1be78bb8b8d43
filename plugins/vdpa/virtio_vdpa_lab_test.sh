#!/usr/bin/env bash
# Host side of the virtio_vdpa lab test: prepares the kernel lab (tests/lab, cached after
# the first run) and boots one guest that runs virtio_vdpa_lab_guest.sh, i.e.
# virtio_vdpa_test.py against vdpa_sim_net, vhost_vdpa and virtio_vdpa.
#
# Usage: virtio_vdpa_lab_test.sh VHOSTD_BINARY
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
LAB=$HERE/../../tests/lab
VHOSTD_BIN=$(readlink -f "$1")
export VHOSTD_BIN
"$LAB/setup.sh" >&2
# preempt=full: on 6.1, virtio_net busy-waits for the answer to a control-queue command
# (setting the MAC) without yielding, and vdpa_sim answers from a work item queued on
# the same CPU, so under the kernel's default voluntary preemption the guest locks up
# (Linux 6.5 added the cond_resched() to that loop).
exec "$LAB/run-guest.sh" -n virtio_vdpa_lab -t 600 -a preempt=full \
  -e TEST_SRCDIR="${TEST_SRCDIR:-}" -e TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
  "$HERE/virtio_vdpa_lab_guest.sh"
