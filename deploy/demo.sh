#!/usr/bin/env bash
# The main job: builds vhostd, starts the daemon, creates two vhost-user ports and a
# cross-connect with vhostctl, attaches a DPDK testpmd with two virtio-user frontends,
# and shows packets crossing the daemon: port status, per-queue counters, polling
# cores and Prometheus metrics. Everything lives in a temporary directory and is
# removed at the end. Needs root (DPDK) and two CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
bazel build //server:vhostd //client:vhostctl

WORK=$(mktemp -d /tmp/vhostd-demo.XXXXXX)
PREFIX="vhostd-demo$$"
METRICS="127.0.0.1:${METRICS_PORT:-9477}"
CPUS=$(nproc)
POLL_CPU=$((CPUS - 1))
VHOSTCTL=(bazel-bin/client/vhostctl --server "unix:$WORK/vhostd.sock")
DAEMON_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  rm -rf "$WORK" "/var/run/dpdk/$PREFIX" "/var/run/dpdk/${PREFIX}tp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting vhostd (polling on CPU $POLL_CPU, metrics on http://$METRICS/metrics)"
mkdir -p "$WORK/sockets"
bazel-bin/server/vhostd --grpc-socket="$WORK/vhostd.sock" --socket-dir="$WORK/sockets" \
  --state-file="$WORK/state.json" --cores="$POLL_CPU" --metrics-address="$METRICS" \
  --plugin-dir=bazel-bin/server/plugins --eal-args="--file-prefix=$PREFIX" >"$WORK/vhostd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$WORK/vhostd.sock" ] && break; sleep 0.1; done
"${VHOSTCTL[@]}" plugin list

step "vhostctl port create / xconnect create"
"${VHOSTCTL[@]}" port create vm-a --type vhost-user --socket-path vm-a.sock >/dev/null
"${VHOSTCTL[@]}" port create vm-b --type vhost-user --socket-path vm-b.sock --queues 1 >/dev/null
"${VHOSTCTL[@]}" xconnect create a-to-b --ports vm-a,vm-b
"${VHOSTCTL[@]}" port list

step "attaching dpdk-testpmd: two net_virtio_user frontends, io forwarding, 5 s of traffic"
# testpmd forwards on CPU 0 (its main lcore sleeps on the polling CPU).
{
  sleep 3; echo "start tx_first"; sleep 5; echo "stop"; sleep 1; echo "quit"
} | dpdk-testpmd -l "$POLL_CPU,0" --main-lcore "$POLL_CPU" --no-huge -m 512 --no-pci \
      --file-prefix "${PREFIX}tp" --no-telemetry \
      --vdev "net_virtio_user0,path=$WORK/sockets/vm-a.sock,queues=1" \
      --vdev "net_virtio_user1,path=$WORK/sockets/vm-b.sock,queues=1" \
      -- -i --total-num-mbufs=8192 --forward-mode=io >"$WORK/testpmd.log" 2>&1 &
TESTPMD_PID=$!
sleep 6
step "while traffic flows: vhostctl port get vm-a"
"${VHOSTCTL[@]}" port get vm-a
step "vhostctl core list"
"${VHOSTCTL[@]}" core list
wait "$TESTPMD_PID" || true
step "testpmd's view (packets it sent into vm-a / received from vm-b)"
grep -A3 "Forward statistics for port" "$WORK/testpmd.log" | grep -E "port|RX-packets|TX-packets" | head -6

step "vhostctl port stats (vhostd's per-queue counters)"
"${VHOSTCTL[@]}" port stats vm-a
"${VHOSTCTL[@]}" port stats vm-b

step "Prometheus metrics (curl http://$METRICS/metrics | grep vm-a)"
curl -s "http://$METRICS/metrics" | grep -E '^vhostd_port_(receive|transmit)_(packets|bytes)_total\{port="vm-a"|^vhostd_core_(busy|idle)_seconds_total|^vhostd_port_up'

step "done: stopping vhostd (SIGTERM)"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
tail -n 2 "$WORK/vhostd.log"
