#!/bin/bash
# The layers' promises, checked on the sources: the data plane and the plugins know
# nothing of the API (no vhostd/v1 header, no gRPC), and the daemon's code includes
# nothing from a plugin (only its tests may use a plugin's messages as fixtures).
# Usage: layering_test.sh FILE... (every source file of dataplane/, plugins/, server/)
set -uo pipefail
fail=0
for file in "$@"; do
  case "$file" in
    dataplane/*|plugins/*)
      if grep -Hn '#include .*vhostd/v1/\|#include .*grpc' "$file"; then
        echo "FAIL: $file: the data plane and plugins must not include the API or gRPC" >&2; fail=1
      fi ;;
    server/*_test.cc|server/testing/*) ;;
    server/*)
      if grep -Hn '#include "plugins/' "$file"; then
        echo "FAIL: $file: the daemon must not include a plugin's code" >&2; fail=1
      fi ;;
  esac
done
[ "$fail" = 0 ] && echo "ok: $# files keep to their layer"
exit $fail
