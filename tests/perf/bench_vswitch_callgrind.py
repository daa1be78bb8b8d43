#!/usr/bin/python3
"""Instructions per forwarded packet of a backend, counted by valgrind's callgrind.

This machine's perf has no hardware counters, so instruction counts come from
callgrind: the backend (testpmd io fwd or vhostd) runs under
`valgrind --tool=callgrind --instr-atstart=no`, the traffic side of bench_vswitch.py
runs natively and keeps it saturated. Once packets circulate, instrumentation is switched
on (`callgrind_control -i on`), the counts zeroed (`-z`) for one window, then dumped; the instructions
executed by the whole backend process in the window (Ir) are divided by the packets its
polling core received in the same window (the backend's own counters, as in
bench_vswitch.py). The dump's top functions go to DIR/r<round>/<config>-<size>.txt.

    bench_vswitch_callgrind.py [--configs testpmd,xconnect] [--sizes 64,1518] [--seconds 10] [--rounds 3] --out DIR
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_vswitch  # noqa: E402
from bench_vswitch_backends import BACKENDS  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402


def callgrind_control(*args):
    return subprocess.run(["callgrind_control"] + list(args), capture_output=True, text=True, check=True).stdout


def dumped_instructions(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s*(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError("no summary line in " + path)


def profile(config, size, a, out):
    backend = BACKENDS[config](a)
    work = short_tmpdir("bvc")
    os.makedirs(out, exist_ok=True)
    prefix = os.path.join(out, "%s-%d" % (config, size))
    a.backend_wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no",
                         "--callgrind-out-file=%s.%%p.callgrind" % prefix]
    tp = None
    try:
        socks = backend.start(work)
        tp = bench_vswitch.connect_traffic(socks, size, a, None)
        bench_vswitch.wait_forwarding(tp, timeout=300)
        tp.start_forwarding(tx_first=a.tx_first)
        time.sleep(a.warmup)
        pid = str(backend.pids()[0])
        callgrind_control("-i", "on", pid)
        time.sleep(1)
        callgrind_control("-z", pid)
        backend.window_begin()
        time.sleep(a.seconds)
        counters = backend.window_end(a.seconds)
        callgrind_control("-d", pid)
        callgrind_control("-i", "off", pid)
        tp.stop_forwarding()
    finally:
        if tp is not None:
            tp.close()
        backend.stop()
        subprocess.run(["rm", "-rf", work])
    # the dump of the window is the first numbered part: "<prefix>.<pid>.callgrind.1"
    dump = "%s.%s.callgrind.1" % (prefix, pid)
    instructions = dumped_instructions(dump)
    packets = counters["backend_packets"]
    with open(prefix + ".txt", "w") as f:
        f.write(subprocess.run(["callgrind_annotate", "--threshold=99", dump], capture_output=True,
                               text=True).stdout)
    return {"config": config, "size": size, "instructions": instructions, "packets": packets,
            "instructions_per_packet": instructions / packets if packets else None, "dump": dump}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="testpmd,xconnect")
    p.add_argument("--sizes", default="64,1518")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=3, help="windows per configuration and size (alternating)")
    p.add_argument("--out", required=True, help="directory for the dumps and annotations")
    own = p.parse_args(argv)
    a = bench_vswitch.parse_args(["--sizes", own.sizes, "--seconds", str(own.seconds), "--warmup", "5"])
    bench_vswitch.snapshot_binaries(a)
    configs = own.configs.split(",")
    for config in configs:
        if config not in ("testpmd", "xconnect", "bridge"):
            raise SystemExit("--configs: %s cannot run under valgrind here (testpmd, xconnect, bridge)" % config)
    # Instructions per packet depend on how full the bursts are, which varies from one
    # window to the next: several rounds, alternating, and their median.
    per_packet = {}
    for r in range(own.rounds):
        for config in configs:
            for size in a.sizes:
                row = profile(config, size, a, os.path.join(os.path.abspath(own.out), "r%d" % r))
                per_packet.setdefault((config, size), []).append(row["instructions_per_packet"] or 0)
                print("round %d %-9s %4d B: %d instructions / %d packets = %.0f instructions per packet" % (
                    r, config, size, row["instructions"], row["packets"], row["instructions_per_packet"] or 0),
                    flush=True)
    print("\n| configuration | frame | instructions per packet, median (min..max) |\n| --- | --- | --- |")
    for (config, size), values in per_packet.items():
        print("| %s | %d B | %.0f (%.0f..%.0f) |" % (config, size, statistics.median(values), min(values),
                                                  max(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
