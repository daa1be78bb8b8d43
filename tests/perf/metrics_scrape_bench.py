#!/usr/bin/python3
"""Scrape latency of vhostd's /metrics with many ports: by default 1,000 vhost-user ports
of 4 queue pairs each and 500 cross-connects on one polling core.

    bazel build //server:vhostd //client:vhostctl //proto:vhostd_py //plugins:all_py
    tests/perf/metrics_scrape_bench.py [--ports 1000] [--queues 4] [--scrapes 20] [--max-median-ms 50]

Creates the ports through the Python gRPC client on one channel (timed), then the
cross-connects (timed), then GETs /metrics with urllib --scrapes times (after one
untimed warm-up) and prints min/median/p95/max latency, the body size and the number of
series. Also times gzip scrapes (what Prometheus asks for) and, while creating ports,
scrapes at a few port counts to show how latency grows, with a straight-line fit.

If the daemon refuses a port before --ports (lib/vhost serves at most 1024 sockets), the
run carries on with the ports it got and says so; see tests/perf/METRICS.md.

Exit status: 0 when the median plain scrape is within --max-median-ms; 1 when it is not;
2 for a setup failure; 3 with --require-all-ports when fewer ports than asked were created.
Run as root on an otherwise idle machine with Debian's /usr/bin/python3 (python3-grpcio).
"""

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from prometheus_server import free_port  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, VhostdError, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def timed_scrape(url, gzip_encoding=False):
    """-> (seconds, decoded body, bytes on the wire)."""
    headers = {"Accept-Encoding": "gzip"} if gzip_encoding else {}
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        raw = r.read()
        encoding = r.headers.get("Content-Encoding", "")
    elapsed = time.perf_counter() - start
    body = gzip.decompress(raw) if encoding == "gzip" else raw
    return elapsed, body.decode("utf-8"), len(raw)


def server_side_us(before, after):
    """(mean microseconds, scrapes) the daemon itself spent serving the scrapes between two
    bodies, from prometheus-cpp's exposer_request_latencies summary; None if absent."""
    def read(body):
        values = dict(re.findall(r"^exposer_request_latencies_(sum|count) (\S+)$", body, re.M))
        return float(values.get("sum", "nan")), float(values.get("count", "nan"))
    (s0, c0), (s1, c1) = read(before), read(after)
    if not c1 > c0:
        return None
    return (s1 - s0) / (c1 - c0), int(c1 - c0)


def worker_cpu_ns(pid):
    """CPU time (ns) the daemon's HTTP worker threads have used: the /metrics handler (collect
    and serialize) runs on prometheus-cpp's civetweb worker. Unlike wall-clock latency it
    hardly depends on what else the machine runs. None if no such thread is found."""
    total, found = 0, False
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                if not f.read().startswith("civetweb-worker"):
                    continue
            with open(os.path.join(task_dir, tid, "schedstat")) as f:
                total += int(f.read().split()[0])
            found = True
        except OSError:
            continue
    return total if found else None


def cpu_per_scrape_ms(pid, url, n):
    """(median wall ms, worker CPU ms per scrape) over n scrapes."""
    before = worker_cpu_ns(pid)
    walls = [timed_scrape(url)[0] * 1000 for _ in range(n)]
    after = worker_cpu_ns(pid)
    cpu = (after - before) / 1e6 / n if before is not None and after is not None else float("nan")
    return statistics.median(walls), cpu


def series_count(body):
    return sum(1 for line in body.splitlines() if line and not line.startswith("#"))


def summary(name, seconds):
    ms = [s * 1000 for s in seconds]
    return "%s: n=%d min=%.2f median=%.2f p95=%.2f max=%.2f ms" % (
        name, len(ms), min(ms), statistics.median(ms), percentile(ms, 95), max(ms))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--cross-connects", type=int, default=None, help="default: ports / 2")
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--max-median-ms", type=float, default=50.0)
    parser.add_argument("--cores", default="1", help="vhostd --cores (default 1)")
    parser.add_argument("--steps", type=int, default=4, help="scrape at this many intermediate port counts")
    parser.add_argument("--require-all-ports", action="store_true",
                        help="exit 3 if the daemon refuses ports before --ports")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (daemon log, state file)")
    args = parser.parse_args()
    wanted_xc = args.ports // 2 if args.cross_connects is None else args.cross_connects

    api = import_api()
    print("metrics_scrape_bench: %d vhost-user ports x %d queues, %d cross-connects, %d scrapes, cores=%s"
          % (args.ports, args.queues, wanted_xc, args.scrapes, args.cores))
    print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))

    workdir = short_tmpdir("vhbench")
    daemon = None
    try:
        for attempt in range(3):
            port = free_port()
            daemon = Vhostd(workdir, cores=args.cores, extra_flags=["--metrics-address=127.0.0.1:%d" % port])
            try:
                daemon.start()
                break
            except VhostdError:
                if attempt == 2 or "cannot listen" not in daemon.log_tail():
                    raise
        url = "http://127.0.0.1:%d/metrics" % port
        stub = daemon.stub()  # one channel for every call
        stub.ListPorts(api.ListPortsRequest())  # connect before timing

        # Intermediate scrapes at evenly spaced port counts, up to what DPDK can hold.
        reachable = min(args.ports, max_ethports) if max_ethports else args.ports
        step_every = max(1, reachable // max(1, args.steps))
        scaling = []  # (ports, median ms of 5 scrapes)
        create_times = []
        refused = None
        start = time.perf_counter()
        for i in range(args.ports):
            port = vhost_user_port("p%d" % i, socket_path="p%d.sock" % i, queues=args.queues)
            t0 = time.perf_counter()
            try:
                stub.CreatePort(api.CreatePortRequest(port=port))
            except grpc.RpcError as e:
                refused = (i, e.code().name, e.details())
                break
            create_times.append(time.perf_counter() - t0)
            if (i + 1) % step_every == 0 and i + 1 < args.ports:
                scaling.append((i + 1,) + cpu_per_scrape_ms(daemon.proc.pid, url, 10))
        create_total = time.perf_counter() - start
        created = len(create_times)
        if created == 0:
            print("ERROR: no port could be created: %s" % (refused,))
            return 2
        ms = [t * 1000 for t in create_times]
        print("created %d ports in %.2f s: %.1f ms/port mean, median %.1f, p95 %.1f, max %.1f, last 10%% mean %.1f ms"
              % (created, create_total, statistics.mean(ms), statistics.median(ms), percentile(ms, 95), max(ms),
                 statistics.mean(ms[-max(1, created // 10):])))
        if refused:
            i, code, details = refused
            print("NOTE: port #%d (p%d) was refused: %s: %s" % (i + 1, i, code, details))
            print("NOTE: measuring with the maximum the daemon accepted: %d ports x %d queues (asked for %d)"
                  % (created, args.queues, args.ports))
            log = daemon.log_tail(20000)
            for line in log.splitlines():
                if "maximum number" in line.lower() or "Failed to create net_vhost" in line:
                    print("      daemon log: %s" % line.strip())

        xc = min(wanted_xc, created // 2)
        start = time.perf_counter()
        for i in range(xc):
            stub.CreateCrossConnect(api.CreateCrossConnectRequest(cross_connect=api.CrossConnect(
                name="x%d" % i, port_a="p%d" % (2 * i), port_b="p%d" % (2 * i + 1))))
        xc_total = time.perf_counter() - start
        print("created %d cross-connects in %.2f s (%.1f ms each)" % (xc, xc_total, 1000 * xc_total / max(1, xc)))

        _, warm, _ = timed_scrape(url)  # warm-up, untimed
        plain, body, size = [], "", 0
        cpu_before = worker_cpu_ns(daemon.proc.pid)
        for _ in range(args.scrapes):
            elapsed, body, size = timed_scrape(url)
            plain.append(elapsed)
        cpu_after = worker_cpu_ns(daemon.proc.pid)
        server = server_side_us(warm, body)
        cpu_ms = (cpu_after - cpu_before) / 1e6 / args.scrapes if cpu_before is not None else float("nan")
        zipped, wire = [], 0
        for _ in range(args.scrapes):
            elapsed, _, wire = timed_scrape(url, gzip_encoding=True)
            zipped.append(elapsed)
        series = series_count(body)
        port_series = sum(1 for line in body.splitlines() if 'port="' in line and not line.startswith("#"))
        scaling.append((created, statistics.median(plain) * 1000, cpu_ms))

        print()
        print("RESULT ports=%d/%d queues=%d cross_connects=%d" % (created, args.ports, args.queues, xc))
        print(summary("scrape (identity)", plain))
        print(summary("scrape (gzip)    ", zipped))
        if server:
            print("server side (the daemon's exposer_request_latencies): mean %.2f ms over %d scrapes"
                  % (server[0] / 1000, server[1]))
        print("daemon CPU per scrape (civetweb worker thread, schedstat): %.2f ms" % cpu_ms)
        print("body: %d bytes (%d bytes gzip); series: %d (%d with a port label, %.1f per port)"
              % (len(body.encode()), wire, series, port_series, port_series / created))
        print("scaling (ports: median wall ms / worker CPU ms per scrape): %s"
              % ", ".join("%d: %.2f / %.2f" % s for s in scaling))
        if len(scaling) >= 2 and created < args.ports:
            for column, what in ((2, "worker CPU"), (1, "median wall-clock")):
                xs, ys = [s[0] for s in scaling], [s[column] for s in scaling]
                mx, my = statistics.mean(xs), statistics.mean(ys)
                slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
                print("EXTRAPOLATION of %s per scrape (least-squares line through the points above; not a "
                      "measurement): %.3f ms per port -> about %.0f ms at %d ports"
                      % (what, slope, my + slope * (args.ports - mx), args.ports))

        median_ms = statistics.median(plain) * 1000
        ok = median_ms <= args.max_median_ms
        print("median %.2f ms %s the %.0f ms budget" % (median_ms, "within" if ok else "EXCEEDS", args.max_median_ms))
        start = time.perf_counter()
        daemon.stop()
        print("daemon stopped (SIGTERM) in %.2f s with %d ports" % (time.perf_counter() - start, created))
        daemon = None
        if not ok:
            return 1
        if args.require_all_ports and created < args.ports:
            return 3
        return 0
    except VhostdError as e:
        print("ERROR: %s" % e)
        return 2
    finally:
        if daemon is not None:
            daemon.stop()
        if args.keep:
            print("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
