#!/bin/bash
# Starts the real daemon with bad plugin directories: it must exit non-zero before
# starting anything, with a message naming the offending file(s).
# Usage: plugin_dir_test.sh VHOSTD BAD_ABI_PLUGIN GOOD_PLUGIN DUPLICATE_PLUGIN
set -euo pipefail
vhostd=$1 bad_abi=$2 good=$3 duplicate=$4
work=$(mktemp -d /tmp/plugin_dir_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0

# Runs the daemon on plugin directory $1 (under $work) and expects failure mentioning each
# further argument.
expect_refused() {
  local dir=$work/$1 rc=0; shift
  timeout 30 "$vhostd" --grpc-socket="$work/api.sock" --socket-dir="$work/sockets" \
    --state-file="$work/state.json" --metrics-address= --plugin-dir="$dir" >"$work/log" 2>&1 || rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
    echo "FAIL: vhostd with $dir exited with $rc"; fail=1
  fi
  for text in "$@"; do
    grep -qF -- "$text" "$work/log" || { echo "FAIL: vhostd's message lacks '$text':"; cat "$work/log"; fail=1; }
  done
  if grep -q "EAL" "$work/log"; then echo "FAIL: EAL was started for $dir"; fail=1; fi
  echo "ok: $(basename "$dir") -> exit $rc: $(tail -n 1 "$work/log")"
}

mkdir "$work/abi" "$work/dup" "$work/empty"
ln -s "$(readlink -f "$bad_abi")" "$work/abi/bad_abi.so"
ln -s "$(readlink -f "$good")" "$work/dup/a.so"
ln -s "$(readlink -f "$duplicate")" "$work/dup/b.so"
expect_refused abi "$work/abi/bad_abi.so" "ABI version 999"
expect_refused dup "$work/dup/a.so" "$work/dup/b.so" "test-type"
expect_refused empty "no *.so plugin in $work/empty"
exit $fail
