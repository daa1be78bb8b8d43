#!/bin/bash
# Fails when a client's dependency graph (FILE: the output of a genquery over
# deps(TARGET); TARGET defaults to //client:vhostctl) reaches a plugin or the data plane.
set -uo pipefail
deps=$1
target=${2:-//client:vhostctl}
[ -s "$deps" ] || { echo "FAIL: empty dependency list $deps" >&2; exit 1; }
grep -qxF "$target" "$deps" || { echo "FAIL: $deps does not list $target" >&2; exit 1; }
if grep -E '^//(plugins|dataplane|server)[/:]' "$deps"; then
  echo "FAIL: $target depends on the targets above; it must learn plugin messages from ListPlugins" >&2
  exit 1
fi
echo "ok: $(wc -l < "$deps") targets, none under //plugins, //dataplane or //server"
