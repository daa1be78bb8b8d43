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
export ASAN_OPTIONS="log_path=$reports/asan:abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan_suppressions.txt"
targets=("$@")
# Every package by its top directory rather than //..., which a second output base would
# follow into the first one's bazel-* symlinks.
[ ${#targets[@]} -gt 0 ] || targets=(//:all //client/... //dataplane/... //plugins/... //server/... //tests/...)
bazel --output_base="${VHOSTD_ASAN_OUTPUT_BASE:-/var/tmp/vhostd-asan-output-base}" test --config=asan \
  --test_timeout=600,1800,3600,7200 -- "${targets[@]}"
rc=$?
if compgen -G "$reports/*" > /dev/null; then
  echo "sanitizer reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
else
  echo "sanitizers: no report from any process"
fi
exit "$rc"
