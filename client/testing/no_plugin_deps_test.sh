#!/bin/bash
# Fails when vhostctl's dependency graph (FILE: the output of a genquery over
# deps(//client:vhostctl)) reaches a plugin or the data plane.
set -uo pipefail
deps=$1
[ -s "$deps" ] || { echo "FAIL: empty dependency list $deps" >&2; exit 1; }
grep -q '^//client:vhostctl$' "$deps" || { echo "FAIL: $deps does not list //client:vhostctl" >&2; exit 1; }
if grep -E '^//(plugins|dataplane|server)[/:]' "$deps"; then
  echo "FAIL: vhostctl depends on the targets above; it must learn plugin messages from ListPlugins" >&2
  exit 1
fi
echo "ok: $(wc -l < "$deps") targets, none under //plugins, //dataplane or //server"
