#!/usr/bin/env bash
# Runs a Python test file with Debian's interpreter (which has python3-grpcio and
# python3-protobuf); Bazel's own Python rules are not used offline.
set -euo pipefail
exec /usr/bin/python3 "$@"
