#!/usr/bin/env bash
# Bazel entry point of single-file VM tests: prepares the kernel lab (cached after the
# first run), then runs the given Python driver with Debian's Python (python3-grpcio).
#
# Usage: run_vm_test.sh DRIVER.PY DRIVER-ARGS...
set -euo pipefail
HERE=$(dirname "$0")
"$HERE/../lab/setup.sh" >&2
driver=$1; shift
exec /usr/bin/python3 "$HERE/$driver" "$@"
