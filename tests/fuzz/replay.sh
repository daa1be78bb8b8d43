#!/usr/bin/env bash
# Replays a fuzz target's corpus (seeds and every finding kept as a regression) through
# the target built without libFuzzer: fails on any crash, sanitizer report or abort.
set -euo pipefail
target=$1
corpus=$2
count=$(find -L "$corpus" -type f | wc -l)
[ "$count" -gt 0 ] || { echo "no inputs in $corpus" >&2; exit 1; }
echo "replaying $count inputs from $corpus"
exec "$target" "$corpus"
