#!/usr/bin/env bash
# Runs a Python test with Debian's interpreter (python3-grpcio, python3-protobuf).
set -euo pipefail
exec /usr/bin/python3 "$@"
