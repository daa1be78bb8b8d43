#!/usr/bin/env bash
# Bazel entry point of the pair tests: prepares the kernel lab (cached after the first
# run; may apt-get install on the first), then runs pair.py with Debian's Python (it has
# python3-grpcio; Bazel's Python rules are not used offline).
#
# Usage: run_pair_test.sh PAIR.PY-ARGS...   (e.g. --backend vhostd --vhostd BIN)
set -euo pipefail
HERE=$(dirname "$0")
"$HERE/../lab/setup.sh" >&2
exec /usr/bin/python3 "$HERE/pair.py" "$@"
