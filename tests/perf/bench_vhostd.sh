#!/usr/bin/env bash
# bench_vhostd.sh - the project's forwarding benchmark: vhost-user port-to-port
# forwarding through a vhostd cross-connect (one polling core), measured side by
# side with dpdk-testpmd io forwarding between two net_vhost ports, in one
# alternating run of the shared harness (../shared/bench/vhost-loopback.sh
# relative to the repository root).  See tests/perf/README.md.
#
#   tests/perf/bench_vhostd.sh [extra vhost-loopback.sh options]
#   REPEAT=1 tests/perf/bench_vhostd.sh --seconds 5 --warmup 2    # quick look
#
# Environment:
#   REPEAT        samples per backend and size (default 15)
#   VHOST_BENCH   the harness (default <repo>/../shared/bench/vhost-loopback.sh)
#   VHOSTD_BIN, VHOSTCTL_BIN  binaries (default <repo>/bazel-bin/{server/vhostd,client/vhostctl});
#                 copied to a temp dir at the start, so a rebuild cannot change them mid-run
#   BAZEL         bazel command (default bazel); SKIP_BUILD=1 skips "bazel build"
#   BENCH_LOG     where the full harness output goes
#                 (default ${TMPDIR:-/tmp}/bench_vhostd.<date>.log; kept)
# Exit status: the harness's (0 only if every sample ran and lost nothing),
# 2 for set-up errors.

set -uo pipefail
export LC_ALL=C

PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 2; }

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)

REPEAT=${REPEAT:-15}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer (got '$REPEAT')"
SIZES=64,1518
TX_FIRST=8
VHOST_BENCH=${VHOST_BENCH:-$root/../shared/bench/vhost-loopback.sh}
[[ -f $VHOST_BENCH ]] || die "harness not found: $VHOST_BENCH (set VHOST_BENCH)"
BACKEND_SCRIPT=$here/vhostd_backend.sh
[[ -x $BACKEND_SCRIPT ]] || die "$BACKEND_SCRIPT missing or not executable"
(( EUID == 0 )) || echo "$PROG: warning: not root; DPDK vhost-user needs root here" >&2

# ------------------------------------------------------------------ build
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    echo "$PROG: bazel build //server:vhostd //client:vhostctl" >&2
    (cd "$root" && ${BAZEL:-bazel} build //server:vhostd //client:vhostctl) || die "bazel build failed"
fi
VHOSTD_BIN=${VHOSTD_BIN:-$root/bazel-bin/server/vhostd}
VHOSTCTL_BIN=${VHOSTCTL_BIN:-$root/bazel-bin/client/vhostctl}
[[ -x $VHOSTD_BIN ]] || die "daemon not found: $VHOSTD_BIN"
[[ -x $VHOSTCTL_BIN ]] || die "CLI not found: $VHOSTCTL_BIN"
# Snapshot both binaries and the daemon's port-type plugins (the plugins/ directory
# next to it): every sample starts the daemon again, and a rebuild in the middle of
# the run (bazel overwrites bazel-bin in place) would otherwise mix two versions in
# one comparison.  They link only system libraries.
BIN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench_vhostd_bin.XXXXXX") || die "mktemp failed"
trap 'rm -rf -- "$BIN_DIR"' EXIT
cp -- "$VHOSTD_BIN" "$BIN_DIR/vhostd" && cp -- "$VHOSTCTL_BIN" "$BIN_DIR/vhostctl" &&
    chmod u+x "$BIN_DIR/vhostd" "$BIN_DIR/vhostctl" || die "cannot copy the binaries to $BIN_DIR"
if [[ -d $(dirname "$VHOSTD_BIN")/plugins ]]; then
    cp -r -- "$(dirname "$VHOSTD_BIN")/plugins" "$BIN_DIR/plugins" || die "cannot copy the plugins to $BIN_DIR"
fi
VHOSTD_SRC=$VHOSTD_BIN
VHOSTD_BIN=$BIN_DIR/vhostd
VHOSTCTL_BIN=$BIN_DIR/vhostctl
export VHOSTD_BIN VHOSTCTL_BIN

# the harness runs: bash -c "$BACKEND_CMD" with SOCK0 SOCK1 BACKEND_CPU ... set
BACKEND_CMD="exec $(printf '%q' "$BACKEND_SCRIPT")"
BACKEND_NAME=vhostd
export BACKEND_CMD BACKEND_NAME

BENCH_LOG=${BENCH_LOG:-${TMPDIR:-/tmp}/bench_vhostd.$(date +%Y%m%d-%H%M%S).log}
: >"$BENCH_LOG" || die "cannot write $BENCH_LOG"

args=(--compare testpmd,cmd --size "$SIZES" --tx-first "$TX_FIRST" --repeat "$REPEAT" "$@")
{
    echo "# $PROG: vhostd from $VHOSTD_SRC, built $(date -u -r "$VHOSTD_SRC" +%Y-%m-%dT%H:%M:%SZ)," \
         "sha256 $(sha256sum <"$VHOSTD_BIN" | cut -c1-16), tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
    echo "# $PROG: $(printf '%q ' bash "$VHOST_BENCH" "${args[@]}")"
} | tee -a "$BENCH_LOG"

# Run the harness in the background (so that a SIGTERM to this script can be
# passed on: a background job of a script ignores SIGINT) and follow its output.
bash "$VHOST_BENCH" "${args[@]}" >>"$BENCH_LOG" 2>&1 &
HPID=$!
tail -n +3 -f --pid="$HPID" "$BENCH_LOG" &
TPID=$!
stop_harness() {
    trap '' INT TERM
    echo "$PROG: interrupted, stopping the harness (it cleans up its processes)" >&2
    kill -TERM "$HPID" 2>/dev/null
    wait "$HPID"
    wait "$TPID" 2>/dev/null
    exit 130   # the EXIT trap removes the binary snapshot
}
trap stop_harness INT TERM
wait "$HPID"
rc=$?
wait "$TPID" 2>/dev/null
trap - INT TERM

# ------------------------------------------------------------------ summary
# RESULT backend=vhostd size=64 ... mpps_median=... paired_ratio_median=... -> short lines
echo
echo "== summary (vhostd vs dpdk-testpmd, vhost-user port-to-port, 1 polling core, tx_first=$TX_FIRST)"
awk '
    /^RESULT / {
        delete f
        for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = substr($i, length(kv[1]) + 2) }
        b = f["backend"]; s = f["size"]
        if (!(s in seen)) { seen[s] = 1; order[++ns] = s }
        mpps[b, s] = f["mpps_median"]
        if (b == "vhostd") {
            pr[s] = f["paired_ratio_median"]; prmin[s] = f["paired_ratio_min"]; prmax[s] = f["paired_ratio_max"]
            n[s] = f["n"]; fails[s] = f["fails"]; lost[s] = f["lost"]; rom[s] = f["ratio_vs_testpmd"]
            fcpu[s] = f["foreign_cpu_pct_max"]
        } else if (b == "testpmd") { tfails[s] = f["fails"]; tlost[s] = f["lost"]; tn[s] = f["n"] }
    }
    END {
        if (ns == 0) { print "no RESULT lines: the run failed, see the log"; exit 1 }
        for (k = 1; k <= ns; k++) {
            s = order[k]
            printf "SUMMARY size=%s vhostd_mpps=%s testpmd_mpps=%s paired_ratio_median=%s paired_ratio_range=%s..%s ratio_of_medians=%s n=%s/%s fails=%s/%s lost=%s/%s foreign_cpu_pct_max=%s\n",
                s, mpps["vhostd", s], mpps["testpmd", s], pr[s], prmin[s], prmax[s], rom[s],
                n[s], tn[s], fails[s], tfails[s], lost[s], tlost[s], fcpu[s]
        }
        for (k = 1; k <= ns; k++) {
            s = order[k]
            printf "  %4s B: vhostd %s Mpps vs testpmd %s Mpps; vhostd/testpmd = %s (median of %s paired ratios, range %s..%s)\n",
                s, mpps["vhostd", s], mpps["testpmd", s], pr[s], n[s], prmin[s], prmax[s]
        }
    }' "$BENCH_LOG" | tee -a "$BENCH_LOG"
echo "full log: $BENCH_LOG"
if (( rc != 0 )); then
    echo "$PROG: the harness exited with status $rc (a sample failed or lost packets; see the SAMPLE lines)" >&2
fi
exit "$rc"
