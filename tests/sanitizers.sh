#!/usr/bin/env bash
# The test suite with every binary built under AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (gcc), in an output base of its own. Every sanitized
# process (vhostd, vhostctl, vhostd-cni, the unit tests) writes its reports to one
# directory; the run fails if any test fails or any report was written, even by a
# daemon a test stopped without looking at its exit status. (bazel-bin points at this
# build afterwards, until the next normal build.)
#   tests/sanitizers.sh [TARGETS...]    (default: everything; a selection, e.g.
#   //server/... //tests/hostile/...)
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
reports=$(mktemp -d /var/tmp/vhostd-sanitizer-reports.XXXXXX)
# handle_sigbus=0: SIGBUS from guest memory is the daemon's own guard's to handle (and a
# fault outside guest memory must still end the process by SIGBUS, as the guard's tests check).
export ASAN_OPTIONS="log_path=$reports/asan:abort_on_error=1:detect_leaks=1:handle_sigbus=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan_suppressions.txt"
targets=("$@")
# Every package by its top directory rather than //..., which a second output base would
# follow into the first one's bazel-* symlinks.
[ ${#targets[@]} -gt 0 ] || targets=(//:all //client/... //dataplane/... //plugins/... //server/... //tests/...)
bazel --output_base="${VHOSTD_ASAN_OUTPUT_BASE:-/var/tmp/vhostd-asan-output-base}" test --config=asan \
  --test_timeout=600,1800,3600,7200 -- "${targets[@]}"
rc=$?
# A finding, not LeakSanitizer's list of suppressions it used (written at every exit).
found=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer' "$reports"/* 2>/dev/null)
if [ -n "$found" ]; then
  echo "sanitizer reports:" >&2
  for f in $found; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
else
  echo "sanitizers: no report from any process ($(ls "$reports" | wc -l) processes listed suppressions only)"
fi
exit "$rc"
