#!/usr/bin/env bash
# Host side of the kernel lab test: prepares the lab (cached after the first run), then
# boots ONE guest that runs the lab smoke test and the vhost-kernel / vDPA integration
# tests (kernel_ports_guest.sh). One boot keeps the stage well under its time budget.
#
# Usage: kernel_lab_test.sh VHOSTD_BINARY
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
VHOSTD_BIN=$(readlink -f "$1")
export VHOSTD_BIN
"$HERE/setup.sh" >&2
# The tests' testpmd also uses net_tap: keep it in the guest's minimal PMD directory.
export LAB_PMD_EXTRA=librte_net_tap
exec "$HERE/run-guest.sh" -n kernel_lab -t 540 \
  -e TEST_SRCDIR="${TEST_SRCDIR:-}" -e TEST_WORKSPACE="${TEST_WORKSPACE:-}" \
  "$HERE/smoke_guest.sh" "$HERE/kernel_ports_guest.sh"
