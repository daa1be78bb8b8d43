#!/usr/bin/env bash
# Smoke test of the kernel lab, host side: prepares the lab (setup.sh; cached after the
# first run), boots one guest and runs smoke_guest.sh in it, followed by any further
# in-guest scripts given, all in the same boot. Exits non-zero if anything in the guest
# failed or the guest did not finish; run-guest.sh stops QEMU however this ends.
#
# Usage: lab_smoke_test.sh [--vhostd BINARY] [SCRIPT...]
#   --vhostd: the daemon binary (bazel passes //server:vhostd); the guest then also
#   starts vhostd, and later scripts find it in $VHOSTD_BIN.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
if [ "${1:-}" = --vhostd ]; then
  VHOSTD_BIN=$(readlink -f "$2")
  export VHOSTD_BIN
  shift 2
fi
"$HERE/setup.sh" >&2
exec "$HERE/run-guest.sh" -n lab_smoke -t 300 "$HERE/smoke_guest.sh" "$@"
