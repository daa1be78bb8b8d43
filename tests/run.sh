#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every test (bazel test
# //...), then a short run of every fuzz target (tests/fuzz/run.sh). Exits non-zero on
# any failure and ends with a "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
bazel test //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One line per test target: "//pkg:target   PASSED in 1.2s" (or FAILED, TIMEOUT, ...).
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|NO STATUS|INCOMPLETE)' "$log" || true)
# A short libFuzzer run of every fuzz target (clang-14, ASan, UBSan; its own output base).
if tests/fuzz/run.sh "${VHOSTD_FUZZ_SECONDS:-20}"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  rc=1
fi
echo "tests: $passed passed, $failed failed"
exit "$rc"
