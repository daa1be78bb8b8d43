#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 (libFuzzer, ASan, UBSan) and runs each for
# SECONDS (default 30) from its checked-in corpus; new inputs go to a scratch corpus, a
# finding stops the run with the reproducer's path. A finding becomes a regression by
# copying its crash-* file into tests/fuzz/corpus/<target>/ (the *_regression tests
# replay it in every build). Long run: tests/fuzz/run.sh 3600; one target:
# VHOSTD_FUZZ_TARGETS=cni_config_fuzzer tests/fuzz/run.sh 600.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-30}
targets=(${VHOSTD_FUZZ_TARGETS:-api_fuzzer state_loader_fuzzer cni_config_fuzzer mem_table_fuzzer})
output_base=${VHOSTD_FUZZ_OUTPUT_BASE:-/var/tmp/vhostd-fuzz-output-base}
bazel --output_base="$output_base" build --config=fuzz $(printf ' //tests/fuzz:%s' "${targets[@]}")
bin=$(bazel --output_base="$output_base" info --config=fuzz bazel-bin)/tests/fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${target%_fuzzer}
  mkdir -p "$work/$target/new" "$work/$target/findings"
  if (cd "$work/$target" && TEST_TMPDIR="$work/$target" \
      "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=findings/ new "$root/$corpus" > log 2>&1); then
    echo "$target: $(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$work/$target/log" | grep -oE '[0-9]+$') runs in ${seconds} s, no finding"
  else
    status=1
    echo "$target: FINDING" >&2
    tail -40 "$work/$target/log" >&2
    mkdir -p fuzz-findings && cp "$work/$target/findings/"* fuzz-findings/ 2>/dev/null || true
    echo "reproducers copied to fuzz-findings/" >&2
  fi
done
exit "$status"
