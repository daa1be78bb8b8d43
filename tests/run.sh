#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every test. Exit status is
# non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
bazel test //... "$@"
