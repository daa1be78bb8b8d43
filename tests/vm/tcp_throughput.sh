#!/usr/bin/env bash
# TCP throughput between two Linux guests, per backend, in one run: the pair test
# (tests/vm/pair.py) on vhostd's cross-connect, on dpdk-testpmd's net_vhost ports (io
# forwarding) and on QEMU's own -netdev socket (no vhost), printing MB/s per direction
# and the ratio of each backend to vhostd. Not a bazel test: the numbers depend on the
# machine and its load. Guests run under TCG here, so the absolute numbers measure QEMU
# more than the backend; compare the ratios, and rerun a few times.
#
# Note the CPU budget: vhostd and testpmd each busy-poll one CPU, the socket backend
# polls none (both QEMUs share all CPUs), so on a 2-CPU machine it gets more CPU.
#
# Usage: tcp_throughput.sh [-s SIZE_MB] [-r ROUNDS] [-b "vhostd testpmd socket"] [-v VHOSTD_BIN] [-l LOG_DIR]
#   defaults: -s 32 -r 1, every backend, bazel-bin/server/vhostd, a temp log dir
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SIZE=32 ROUNDS=1 BACKENDS="vhostd testpmd socket" VHOSTD= LOGS=
while getopts s:r:b:v:l: o; do
  case $o in
    s) SIZE=$OPTARG;; r) ROUNDS=$OPTARG;; b) BACKENDS=$OPTARG;; v) VHOSTD=$OPTARG;; l) LOGS=$OPTARG;;
    *) sed -n '2,/^set -e/p' "$0" | sed '$d' >&2; exit 2;;
  esac
done
LOGS=${LOGS:-$(mktemp -d /tmp/vm-tcp.XXXXXX)}
mkdir -p "$LOGS"
"$HERE/../lab/setup.sh" >/dev/null

# Larger transfers than the functional test's 8 MiB: at a few MB/s, 8 MiB is ~1 s, and
# the guests' clock has 10 ms steps.
failed=0
for round in $(seq "$ROUNDS"); do
  for b in $BACKENDS; do
    echo "== round $round: $b (${SIZE} MiB each way)" >&2
    args=(--backend "$b" --size-mb "$SIZE" --log-dir "$LOGS/$b.$round" --json "$LOGS/$b.$round.json")
    [ "$b" != vhostd ] || [ -z "$VHOSTD" ] || args+=(--vhostd "$VHOSTD")
    if ! /usr/bin/python3 "$HERE/pair.py" "${args[@]}" > "$LOGS/$b.$round.txt" 2>&1; then
      echo "   $b failed: see $LOGS/$b.$round.txt" >&2; failed=1
    fi
    grep -E '^pair test|tcp_.*_MBps' "$LOGS/$b.$round.txt" | sed 's/^/   /' >&2 || true
  done
done

# Table: per backend, the median over rounds of each direction's MB/s (sender's clock).
/usr/bin/python3 - "$LOGS" "$ROUNDS" $BACKENDS <<'EOF'
import json, os, statistics, sys
logs, rounds, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {}
for b in backends:
    ab, ba, ok = [], [], []
    for r in range(1, rounds + 1):
        try:
            res = json.load(open(os.path.join(logs, "%s.%d.json" % (b, r))))
        except (OSError, ValueError):
            continue
        m = res["metrics"]
        ok.append(res["ok"])
        if "a.tcp_a-b_MBps" in m: ab.append(m["a.tcp_a-b_MBps"])
        if "b.tcp_b-a_MBps" in m: ba.append(m["b.tcp_b-a_MBps"])
    med = lambda xs: statistics.median(xs) if xs else None
    rows[b] = (med(ab), med(ba), "%d/%d" % (sum(ok), rounds))
base = rows.get("vhostd")
def mean(r):
    xs = [x for x in r[:2] if x is not None]
    return sum(xs) / len(xs) if xs else None
print("%-8s %10s %10s %10s %12s %7s" % ("backend", "a->b MB/s", "b->a MB/s", "mean MB/s", "vs vhostd", "passed"))
for b, r in rows.items():
    m = mean(r)
    ratio = "%.2fx" % (m / mean(base)) if m and base and mean(base) else "-"
    f = lambda x: "%.2f" % x if x is not None else "-"
    print("%-8s %10s %10s %10s %12s %7s" % (b, f(r[0]), f(r[1]), f(m), ratio, r[2]))
print("logs: %s" % logs)
EOF
exit $failed
