#!/usr/bin/python3
"""What idle sleeping (--pmd-sleep-max-us, like OVS's pmd-sleep-max) saves in CPU and
costs in latency, in one alternating run through one daemon whose setting changes
between samples (`vhostctl core settings --sleep-max-us N`).

  CPU 1: vhostd, one polling core           CPU 0: dpdk-testpmd, icmpecho forwarding
  netns: tap ── vhost-kernel port k0 ══ cross-connect ══ vhost-user port u0 ── net_virtio_user
                (plain tap here)                                          (answers ARP and ping)

Per round, per setting (in a rotating order): the setting is applied, then
  * idle: the polling thread's CPU time (utime + stime from /proc) over --idle-seconds
    with no traffic, in % of one CPU;
  * per ping rate (--rates, packets per second): `ping -i 1/rate` from the namespace to
    testpmd's address, at least --pings and --rate-seconds per rate: every round-trip
    time, and the polling thread's CPU meanwhile. At a low rate every ping finds the core asleep (up to the
    setting); the round trip crosses the core twice (the request to u0, the reply to k0),
    so the added latency is up to two sleeps.
Reported per setting and rate: median, p90, p99 and max RTT, CPU %, and the medians'
ratio to busy polling (setting 0). Throughput at saturation is bench_vswitch.py's
`xconnect-sleep` configuration (a saturated core never sleeps).

    bench_idle_sleep.py [--rounds 5] [--settings 0,50,200,1000] [--rates 10,500] [--out FILE]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_kernel_port, vhost_user_port  # noqa: E402

NETNS = "idlesleep%d" % os.getpid()
TAP = "isk%d" % (os.getpid() % 10000)
HOST_ADDRESS, ECHO_ADDRESS = "10.66.0.1", "10.66.0.2"
TRAFFIC_CPU = 0  # testpmd and ping; vhostd polls on CPU 1


def sh(*argv, netns=None, check=True):
    if netns:
        argv = ("ip", "netns", "exec", netns) + argv
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=600)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def thread_cpu_seconds(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def polling_thread(pid):
    """The DPDK worker thread (lcore) that polls: the busiest worker of the daemon."""
    best, best_cpu = None, -1.0
    for tid in map(int, os.listdir("/proc/%d/task" % pid)):
        with open("/proc/%d/task/%d/comm" % (pid, tid)) as f:
            name = f.read().strip()
        cpu = thread_cpu_seconds(pid, tid)
        if name.startswith(("rte-worker", "lcore-worker")) and cpu > best_cpu:
            best, best_cpu = tid, cpu
    if best is None:
        raise SystemExit("no DPDK worker thread (rte-worker-N) in vhostd %d" % pid)
    return best


class CpuMeter:
    def __init__(self, pid, tid):
        self.pid, self.tid = pid, tid

    def __enter__(self):
        self.started, self.cpu = time.monotonic(), thread_cpu_seconds(self.pid, self.tid)
        return self

    def __exit__(self, *exc):
        self.percent = 100.0 * (thread_cpu_seconds(self.pid, self.tid) - self.cpu) / (time.monotonic() - self.started)


def ping_rtts(rate, count):
    # On the traffic CPU: a ping at a short interval would otherwise take the polling CPU.
    out = sh("taskset", "-c", str(TRAFFIC_CPU), "ping", "-n", "-c", str(count), "-i", "%.4f" % (1.0 / rate),
             "-W", "1", ECHO_ADDRESS, netns=NETNS, check=False).stdout
    rtts = [float(m) for m in re.findall(r"time=([0-9.]+) ms", out)]
    if len(rtts) < count * 0.95:
        raise SystemExit("ping at %d/s: %d of %d answered:\n%s" % (rate, len(rtts), count, out[-2000:]))
    return rtts


def summarize(samples, settings, rates):
    rows = []
    for setting in settings:
        mine = [s for s in samples if s["sleep_max_us"] == setting]
        row = {"sleep_max_us": setting, "idle_cpu_pct": statistics.median(s["idle_cpu_pct"] for s in mine)}
        for rate in rates:
            rtts = [r for s in mine for r in s["rates"][str(rate)]["rtt_ms"]]
            row[str(rate)] = {"median_ms": statistics.median(rtts), "p90_ms": percentile(rtts, 90),
                              "p99_ms": percentile(rtts, 99), "max_ms": max(rtts),
                              "cpu_pct": statistics.median(s["rates"][str(rate)]["cpu_pct"] for s in mine)}
        rows.append(row)
    base = rows[0] if rows and rows[0]["sleep_max_us"] == 0 else None
    for row in rows:
        for rate in rates:
            cell = row[str(rate)]
            cell["median_ratio"] = cell["median_ms"] / base[str(rate)]["median_ms"] if base else None
    return rows


def print_summary(rows, rates):
    print("\nsleep_max_us  idle CPU%  " + "  ".join(
        "| %d/s: median  p90     p99     max (ms)  ratio  CPU%%" % r for r in rates))
    for row in rows:
        cells = []
        for rate in rates:
            c = row[str(rate)]
            cells.append("| %12.3f %7.3f %7.3f %7.3f %8s %6.1f" % (
                c["median_ms"], c["p90_ms"], c["p99_ms"], c["max_ms"],
                "%.2f" % c["median_ratio"] if c["median_ratio"] else "-", c["cpu_pct"]))
        print("%12d  %9.1f  %s" % (row["sleep_max_us"], row["idle_cpu_pct"], "  ".join(cells)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--settings", default="0,50,200,1000", help="--pmd-sleep-max-us values; 0 (busy) first")
    p.add_argument("--rates", default="10,500", help="ping rates, packets per second")
    p.add_argument("--pings", type=int, default=100, help="pings per rate and sample, at least")
    p.add_argument("--rate-seconds", type=float, default=4,
                   help="and at least this long per rate (CPU time is counted in 10 ms ticks)")
    p.add_argument("--idle-seconds", type=float, default=3)
    p.add_argument("--out", help="every sample and the summary as JSON")
    a = p.parse_args()
    settings = [int(s) for s in a.settings.split(",")]
    rates = [int(r) for r in a.rates.split(",")]
    print("load average at start: %s" % open("/proc/loadavg").read().strip())

    workdir = short_tmpdir("isl")
    sh("ip", "netns", "add", NETNS)
    daemon = tp = None
    try:
        sh("ip", "link", "set", "lo", "up", netns=NETNS)
        daemon = Vhostd(os.path.join(workdir, "vhostd"), cores="1", extra_flags=["--metrics-address="],
                        file_prefix="isl%d" % os.getpid())
        daemon.start()
        api = import_api()
        stub = daemon.stub()
        stub.CreatePort(api.CreatePortRequest(port=vhost_kernel_port(
            "k0", tap_name=TAP, netns="/var/run/netns/" + NETNS, allow_plain_tap=True)))
        stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u0", socket_path="u0.sock")))
        stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x", port_a="k0", port_b="u0")))
        backend = stub.GetPort(api.GetPortRequest(name="k0")).status.backend
        # Both testpmd lcores on CPU 0: its main thread busy-waits at the prompt, and on
        # CPU 1 it would take half of the polling core's CPU.
        tp = Testpmd([virtio_user_vdev(0, os.path.join(daemon.socket_dir, "u0.sock"))], lcores="0@0,1@0",
                     main_lcore=1, forward_mode="icmpecho", log_path=os.path.join(workdir, "testpmd.log"))
        tp.start()
        tp.start_forwarding()
        sh("ip", "addr", "add", HOST_ADDRESS + "/24", "dev", TAP, netns=NETNS)
        sh("ip", "link", "set", TAP, "up", netns=NETNS)
        ping_rtts(10, 5)  # ARP resolved, the path works
        tid = polling_thread(daemon.proc.pid)
        print("vhostd %d, polling thread %d; k0 backend %s; settings %s us; rates %s/s; %d rounds"
              % (daemon.proc.pid, tid, backend, settings, rates, a.rounds))
        samples = []
        for r in range(a.rounds):
            order = settings[r % len(settings):] + settings[:r % len(settings)]
            for setting in order:
                daemon.vhostctl("core", "settings", "--sleep-max-us", str(setting))
                time.sleep(0.5)
                sample = {"round": r, "sleep_max_us": setting, "rates": {}}
                with CpuMeter(daemon.proc.pid, tid) as idle:
                    time.sleep(a.idle_seconds)
                sample["idle_cpu_pct"] = idle.percent
                for rate in rates:
                    with CpuMeter(daemon.proc.pid, tid) as busy:
                        rtts = ping_rtts(rate, max(a.pings, int(rate * a.rate_seconds)))
                    sample["rates"][str(rate)] = {"rtt_ms": rtts, "cpu_pct": busy.percent}
                samples.append(sample)
                print("round %d sleep_max_us %5d: idle CPU %5.1f%%; %s" % (r, setting, sample["idle_cpu_pct"], "; ".join(
                    "%d/s median %.3f ms p99 %.3f ms CPU %.1f%%" % (
                        rate, statistics.median(sample["rates"][str(rate)]["rtt_ms"]),
                        percentile(sample["rates"][str(rate)]["rtt_ms"], 99), sample["rates"][str(rate)]["cpu_pct"])
                    for rate in rates)), flush=True)
        rows = summarize(samples, settings, rates)
        print_summary(rows, rates)
        print("load average at end: %s" % open("/proc/loadavg").read().strip())
        if a.out:
            with open(a.out, "w") as f:
                json.dump({"samples": samples, "summary": rows, "backend": backend}, f, indent=1)
    finally:
        if tp is not None:
            tp.close()
        if daemon is not None:
            daemon.stop()
        sh("ip", "netns", "del", NETNS, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
