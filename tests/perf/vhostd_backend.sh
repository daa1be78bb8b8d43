#!/usr/bin/env bash
# vhostd_backend.sh - runs vhostd as the "cmd" backend of the shared vhost-loopback
# harness (../shared/bench/vhost-loopback.sh, see its README "Contract for cmd").
#
# The harness runs this with SOCK0, SOCK1, BACKEND_CPU, TRAFFIC_CPU and
# BACKEND_RUN_DIR in the environment.  It
#   1. starts the daemon (one polling core: BACKEND_CPU) with its gRPC socket,
#      state file and DPDK file prefix of its own, and vhost-user sockets in the
#      directory of SOCK0;
#   2. waits for the gRPC socket;
#   3. creates the vhost-user ports p0 (SOCK0) and p1 (SOCK1) and the
#      cross-connect x between them with vhostctl;
#   4. waits for the daemon.  On SIGTERM (the harness signals the whole process
#      group) it forwards SIGTERM to the daemon, waits for it to exit and removes
#      the daemon's DPDK runtime directory.
#
# Environment:
#   VHOSTD_BIN      daemon binary (default: <repo>/bazel-bin/server/vhostd)
#   VHOSTCTL_BIN    CLI binary    (default: <repo>/bazel-bin/client/vhostctl)
#   VHOSTD_PLUGIN_DIR  port-type plugins (default: plugins/ next to the real binary)
#   VHOSTD_START_TIMEOUT  seconds to wait for the gRPC socket (default 60)
#   VHOSTD_EXTRA_ARGS     more daemon flags, word-split (default: none)
# stdout/stderr go to the harness's cmd.log (kept with --keep).

set -uo pipefail

PROG=vhostd_backend
log() { echo "$PROG: $*" >&2; }

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)

for v in SOCK0 SOCK1 BACKEND_CPU BACKEND_RUN_DIR; do
    [[ -n ${!v:-} ]] || { log "$v is not set (run me through vhost-loopback.sh --backend cmd)"; exit 2; }
done
VHOSTD_BIN=${VHOSTD_BIN:-$root/bazel-bin/server/vhostd}
VHOSTCTL_BIN=${VHOSTCTL_BIN:-$root/bazel-bin/client/vhostctl}
START_TIMEOUT=${VHOSTD_START_TIMEOUT:-60}
[[ -x $VHOSTD_BIN ]] || { log "daemon binary not found: $VHOSTD_BIN (bazel build //server:vhostd)"; exit 2; }
[[ -x $VHOSTCTL_BIN ]] || { log "CLI binary not found: $VHOSTCTL_BIN (bazel build //client:vhostctl)"; exit 2; }

mkdir -p "$BACKEND_RUN_DIR"
GRPC_SOCK=$BACKEND_RUN_DIR/vhostd.sock
SERVER=unix:$GRPC_SOCK
SOCK_DIR=$(dirname "$SOCK0")
[[ $(dirname "$SOCK1") == "$SOCK_DIR" ]] || log "warning: SOCK1 is not in $SOCK_DIR (the daemon's --socket-dir)"
PREFIX=vhostd-bench$$
# where DPDK puts the runtime dir of --file-prefix (eal_create_runtime_dir)
if (( EUID == 0 )); then DPDK_RUNDIR=/var/run/dpdk; else DPDK_RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi

DPID=
cleanup() {
    [[ -n $PREFIX && -d $DPDK_RUNDIR/$PREFIX ]] && rm -rf -- "${DPDK_RUNDIR:?}/$PREFIX"
    return 0
}
daemon_alive() { # the daemon is our child: until reaped it is a zombie, so read its state
    local s
    [[ -n $DPID ]] || return 1
    s=$(cat "/proc/$DPID/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [[ ${s%% *} != Z ]]
}
stop_daemon() { # forward SIGTERM, wait for the daemon, return its status
    local rc=0
    if [[ -n $DPID ]]; then
        kill -TERM "$DPID" 2>/dev/null
        wait "$DPID"; rc=$?
        log "vhostd (pid $DPID) exited with status $rc"
        DPID=
    fi
    cleanup
    return "$rc"
}
on_signal() {
    trap '' TERM INT   # the daemon already runs; a second signal must not cut the wait short
    log "got $1, stopping vhostd"
    stop_daemon
    exit $?
}
fail() { log "error: $*"; stop_daemon; exit 1; }
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT

# "--metrics-address=" (empty: no metrics listener) goes only to a daemon that has
# the flag: absl rejects unknown flags, and a daemon without it has no listener.
metrics=("--metrics-address=")
helpfull=$("$VHOSTD_BIN" --helpfull 2>&1)
if [[ $helpfull == *grpc[-_]socket* && $helpfull != *metrics[-_]address* ]]; then
    log "note: $VHOSTD_BIN has no --metrics-address flag; starting it without"
    metrics=()
fi
# Plugins: passed explicitly, so a copied or symlinked binary still finds Bazel's; a
# daemon from before plugins were shared objects has no such flag.
plugins=()
if [[ $helpfull == *plugin[-_]dir* ]]; then
    plugins=("--plugin-dir=${VHOSTD_PLUGIN_DIR:-$(dirname "$(readlink -f "$VHOSTD_BIN")")/plugins}")
fi
daemon=("$VHOSTD_BIN"
        "--grpc-socket=$GRPC_SOCK"
        "--socket-dir=$SOCK_DIR"
        "--state-file=$BACKEND_RUN_DIR/state.json"
        "--cores=$BACKEND_CPU"
        "${metrics[@]}"
        "${plugins[@]}"
        "--eal-args=--file-prefix=$PREFIX -m 1024")
# shellcheck disable=SC2206
[[ -n ${VHOSTD_EXTRA_ARGS:-} ]] && daemon+=($VHOSTD_EXTRA_ARGS)
log "starting: $(printf '%q ' "${daemon[@]}")"
"${daemon[@]}" &
DPID=$!

# wait for the gRPC socket
t0=$SECONDS
until [[ -S $GRPC_SOCK ]]; do
    if ! daemon_alive; then
        wait "$DPID"; rc=$?; DPID=
        cleanup
        log "error: vhostd exited with status $rc before creating $GRPC_SOCK"
        exit 1
    fi
    (( SECONDS - t0 < START_TIMEOUT )) || fail "no gRPC socket $GRPC_SOCK after ${START_TIMEOUT}s"
    sleep 0.1
done

ctl() {
    log "vhostctl $*"
    "$VHOSTCTL_BIN" --server "$SERVER" "$@"
}
# The socket file can exist a moment before the server accepts; port creation is
# idempotent (same spec under the same name returns the existing port), so retry it.
for (( try = 1; ; try++ )); do
    ctl port create p0 --type vhost-user --socket-path "$SOCK0" && break
    daemon_alive || fail "vhostd died while creating port p0"
    (( try < 10 )) || fail "port create p0 failed $try times"
    sleep 0.5
done
ctl port create p1 --type vhost-user --socket-path "$SOCK1" || fail "port create p1 failed"
ctl xconnect create x --ports p0,p1 || fail "xconnect create x failed"
log "ports p0 ($SOCK0), p1 ($SOCK1) and cross-connect x created; vhostd polls on CPU $BACKEND_CPU"

# wait for the daemon; SIGTERM interrupts this wait and runs on_signal
wait "$DPID"
rc=$?
DPID=
log "error: vhostd exited on its own with status $rc"
cleanup
exit "$rc"
