#!/usr/bin/python3
"""vhostd against dpdk-testpmd and OVS-DPDK: vhost-user port-to-port forwarding on one core.

One alternating run. Every configuration gets the same traffic side, a dpdk-testpmd with
two net_virtio_user ports in io forward, and the same pinning: the backend polls on
--backend-cpu, the traffic side forwards on --traffic-cpu.

      CPU traffic (0): testpmd, io fwd              CPU backend (1): the configuration
   port0 net_virtio_user ── vhost-user sock0 ──  port 0 ══╗  vhostd cross-connect
   port1 net_virtio_user ── vhost-user sock1 ──  port 1 ══╝  vhostd bridge (MAC learning)
                                                            testpmd io fwd, 2x net_vhost
                                                            OVS-DPDK in_port flows / NORMAL

In each round every configuration starts from nothing with its traffic side, then each
frame size is measured in turn: wait until packets come back on both ports, drain them,
inject a fixed population (--tx-first bursts of 32 per stream: 8 -> 512 packets), warm
up, then count what the traffic side receives during the window (both directions
summed; each packet crossed the backend once). Around the window read the backend's own
counters: busy cycles (polls that moved packets) and packets received on its polling
core, which give busy cycles per forwarded packet, the figure that shows headroom when
the traffic side saturates first. After the window everything in flight is drained and
counted: lost packets make the run fail.

    bench_vswitch.py [--rounds 15] [--seconds 5] [--warmup 2] [--sizes 64,1518]
                     [--configs testpmd,xconnect,bridge,ovs-p2p,ovs-normal]
                     [--lock FILE ...] [--out results.json] [--png plot.png]
"""

import argparse
import atexit
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
sys.path.insert(0, HERE)
from bench_vswitch_backends import BACKENDS, bridge_unavailable_reason, testpmd_cycles  # noqa: E402
from bench_vswitch_host import CpuMeter, RoundLock, load_average  # noqa: E402
from bench_vswitch_report import plot_png, summarize, print_table  # noqa: E402
from bench_vswitch_ovs import available as ovs_unavailable_reason  # noqa: E402
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402

MAC = ("02:00:00:00:00:01", "02:00:00:00:00:02")
BURST = 32
RING = 256


def traffic_side(socks, size, a, log_path):
    """The testpmd that sends and receives for every configuration."""
    return Testpmd([virtio_user_vdev(i, socks[i], queue_size=RING, mac=MAC[i]) for i in (0, 1)],
                   lcores="%d,%d" % (a.backend_cpu, a.traffic_cpu), main_lcore=a.backend_cpu,
                   forward_mode="io", nb_cores=1, mem_mb=1024, total_num_mbufs=16384, mbuf_size=2176,
                   burst=BURST, rxd=RING, txd=RING, txpkts=size, log_path=log_path,
                   file_prefix="bvt%d" % os.getpid(),
                   extra_args=["--eth-peer=0,%s" % MAC[1], "--eth-peer=1,%s" % MAC[0], "--record-core-cycles"])


def connect_traffic(socks, size, a, log_path):
    """A backend may create its socket before it listens: retry the traffic side."""
    for attempt in range(3):
        tp = traffic_side(socks, size, a, log_path)
        try:
            tp.start()
            return tp
        except Exception:
            tp.close(quit_timeout=2)
            if attempt == 2:
                raise
            time.sleep(1)


def rx_total(stats):
    return stats[0]["rx_packets"] + stats[1]["rx_packets"]


def wait_forwarding(tp, timeout=60.0):
    """Bursts of tx_first until packets come back on both ports (OVS fills its pools,
    learning switches learn both MACs), then drains and clears the counters."""
    deadline = time.monotonic() + timeout
    while True:
        before = tp.port_stats()
        tp.start_forwarding(tx_first=True)
        time.sleep(1)
        tp.stop_forwarding()
        after = tp.port_stats()
        if all(after[p]["rx_packets"] - before[p]["rx_packets"] > 4 * BURST for p in (0, 1)):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("no forwarding in both directions within %.0f s" % timeout)
    drain(tp)
    tp.clear_stats()


def drain(tp, seconds=0.5):
    tp.set_fwd("rxonly")
    tp.start_forwarding()
    time.sleep(seconds)
    tp.stop_forwarding()
    tp.set_fwd("io")


def perf_record(a, name):
    """`perf record -g` of the backend CPU for one window (--perf-record DIR), or None."""
    if not a.perf_record:
        return None
    os.makedirs(a.perf_record, exist_ok=True)
    out = os.path.join(a.perf_record, name + ".data")
    return subprocess.Popen(["perf", "record", "-q", "-g", "-C", str(a.backend_cpu), "-o", out,
                             "--", "sleep", str(a.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(tp, backend, cpu, a, name):
    """Injects the population and measures one window; returns the sample's fields."""
    tp.start_forwarding(tx_first=a.tx_first)
    time.sleep(a.warmup)
    cpu.begin()
    backend.window_begin()
    t0 = time.monotonic()
    s0 = tp.port_stats()
    c0 = testpmd_cycles(tp)
    recorder = perf_record(a, name)
    time.sleep(a.seconds)
    if recorder is not None:
        recorder.wait()
    s1 = tp.port_stats()
    c1 = testpmd_cycles(tp)
    t1 = time.monotonic()
    counters = backend.window_end(t1 - t0)
    foreign, steal = cpu.end()
    fwd = tp.stop_forwarding()
    time.sleep(0.5)
    drain(tp, 1.0)
    final = tp.port_stats()
    window = t1 - t0
    injected = 2 * a.tx_first * BURST
    tx = final[0]["tx_packets"] + final[1]["tx_packets"]
    lost = tx - rx_total(final)
    traffic_dropped = sum(fwd[p].get("tx_dropped", 0) for p in (0, 1))
    mhz = c1[2] or c0[2]
    sample = {
        "mpps": (rx_total(s1) - rx_total(s0)) / window / 1e6,
        "dir01_mpps": (s1[1]["rx_packets"] - s0[1]["rx_packets"]) / window / 1e6,
        "dir10_mpps": (s1[0]["rx_packets"] - s0[0]["rx_packets"]) / window / 1e6,
        "window_s": window,
        "injected": injected, "lost": lost, "traffic_dropped": traffic_dropped,
        "traffic_busy_pct": 100.0 * (c1[0] - c0[0]) / (mhz * 1e6 * window) if mhz else None,
        "foreign_cpu_pct": foreign, "steal_pct": steal,
    }
    sample.update(counters)
    return sample


def run_session(config, a, work, cpu):
    """Starts the configuration and the traffic side once, then measures each frame size
    in turn (testpmd "set txpkts"); returns one sample per size."""
    backend = BACKENDS[config](a)
    sdir = os.path.join(work, "s")
    shutil.rmtree(sdir, ignore_errors=True)
    os.makedirs(sdir)
    samples = []
    tp = None
    try:
        socks = backend.start(sdir)
        tp = connect_traffic(socks, a.sizes[0], a, os.path.join(sdir, "traffic.log") if a.keep else None)
        cpu.track([tp.pid] + backend.pids())
        for size in a.sizes:
            samples.append(sample_with_retries(tp, backend, config, size, a, cpu))
    except Exception as e:
        if a.keep:
            keep = os.path.join(a.keep, "%s-%d" % (config, int(time.time())))
            shutil.copytree(sdir, keep, ignore=shutil.ignore_patterns("*.sock", "sock*", "vhu*"))
        error = "%s: %s" % (type(e).__name__, str(e)[-2000:])
        for size in a.sizes[len(samples):]:
            samples.append({"config": config, "size": size, "error": error, "load1": load_average()[0]})
            print(format_sample(samples[-1]), flush=True)
    finally:
        if tp is not None:
            tp.close()
        backend.stop()
    return samples


def sample_with_retries(tp, backend, config, size, a, cpu):
    """One measured window at this frame size; measured again (at most --retries times,
    after --retry-wait) while other processes used more than --max-foreign of a CPU."""
    tp.cmd("set txpkts %d" % size)
    for attempt in range(a.retries + 1):
        load1 = load_average()[0]
        wait_forwarding(tp)
        s = measure(tp, backend, cpu, a, "%s-%d-%d" % (config, size, int(time.time())))
        if not backend.alive():
            raise RuntimeError("backend died during the window")
        s.update(config=config, size=size, load1=load1, attempt=attempt)
        print(format_sample(s), flush=True)
        if s["foreign_cpu_pct"] <= a.max_foreign or attempt == a.retries:
            return s
        print("  foreign CPU %.0f%% > %.0f%%: again in %.0f s (load %s)" % (
            s["foreign_cpu_pct"], a.max_foreign, a.retry_wait, " ".join("%.2f" % x for x in load_average())),
            flush=True)
        time.sleep(a.retry_wait)


def format_sample(s):
    if "error" in s:
        return "%-10s %4d B  FAILED  %s" % (s["config"], s["size"], s["error"].splitlines()[0][:200])
    cpp = s.get("backend_cycles_per_packet")
    return ("%-10s %4d B %7.3f Mpps (%.3f/%.3f)  backend %s cyc/pkt busy %s%%  traffic busy %s%%  "
            "lost %d tdrop %d  foreign %.0f%%  load1 %.2f" % (
                s["config"], s["size"], s["mpps"], s["dir01_mpps"], s["dir10_mpps"],
                "%.0f" % cpp if cpp is not None else "na",
                "%.0f" % s["backend_busy_pct"] if s.get("backend_busy_pct") is not None else "na",
                "%.0f" % s["traffic_busy_pct"] if s["traffic_busy_pct"] is not None else "na",
                s["lost"], s["traffic_dropped"], s["foreign_cpu_pct"], s["load1"]))


def choose_configs(requested, a):
    """The configurations that can run here; the others with the reason they cannot."""
    chosen, skipped = [], {}
    for c in requested:
        if c not in BACKENDS:
            raise SystemExit("--configs: unknown configuration %r (known: %s)" % (c, ", ".join(BACKENDS)))
        reason = None
        if c == "bridge":
            reason = bridge_unavailable_reason(a)
        elif c.startswith("ovs"):
            reason = ovs_unavailable_reason()
        if reason:
            skipped[c] = reason
        else:
            chosen.append(c)
    return chosen, skipped


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15, help="samples per configuration and size")
    p.add_argument("--seconds", type=float, default=5, help="measurement window")
    p.add_argument("--warmup", type=float, default=2, help="seconds between injection and the window")
    p.add_argument("--sizes", default="64,1518", help="frame sizes without FCS (testpmd --txpkts)")
    p.add_argument("--configs", default="testpmd,xconnect,bridge,ovs-p2p,ovs-normal",
                   help="also known: xconnect-sleep (the cross-connect with --pmd-sleep-max-us)")
    p.add_argument("--sleep-max-us", type=int, default=500, help="xconnect-sleep's --pmd-sleep-max-us")
    p.add_argument("--tx-first", type=int, default=8, help="bursts injected per stream (8: 512 packets)")
    p.add_argument("--backend-cpu", type=int, default=1)
    p.add_argument("--traffic-cpu", type=int, default=0)
    p.add_argument("--max-foreign", type=float, default=15,
                   help="%% of a CPU used by other processes during a window above which it is re-run")
    p.add_argument("--retries", type=int, default=1)
    p.add_argument("--retry-wait", type=float, default=10)
    p.add_argument("--nice", type=int, default=-10,
                   help="niceness of the benchmark and everything it starts (traffic side and backends alike), "
                   "so that a shared machine's other work disturbs the windows less; 0 leaves it")
    p.add_argument("--lock", action="append", default=[],
                   help="flock this file for each round (released between rounds); repeatable")
    p.add_argument("--vhostd", default=os.path.join(HERE, "..", "..", "bazel-bin", "server", "vhostd"))
    p.add_argument("--vhostctl", default=os.path.join(HERE, "..", "..", "bazel-bin", "client", "vhostctl"))
    p.add_argument("--out", help="write every sample and the summary as JSON")
    p.add_argument("--png", help="plot the medians (needs gnuplot)")
    p.add_argument("--perf-record", metavar="DIR",
                   help="perf record -g the backend CPU during every window into DIR (for profiling, not for "
                   "the figures: perf costs the backend some cycles)")
    p.add_argument("--keep", help="copy the logs of failed samples into this directory")
    a = p.parse_args(argv)
    a.sizes = [int(s) for s in a.sizes.split(",")]
    if a.rounds < 1 or a.seconds <= 0 or a.tx_first < 1:
        p.error("--rounds, --seconds and --tx-first must be positive")
    return a


def exit_on_signal(signum, _frame):
    """SIGTERM and SIGINT end the run through its finally blocks, which stop what it started."""
    raise SystemExit("interrupted by signal %d" % signum)


def main(argv=None):
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    a = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (DPDK, OVS)")
    configs, skipped = choose_configs(a.configs.split(","), a)
    for c, reason in skipped.items():
        print("# not measured: %s: %s" % (c, reason), flush=True)
    if "testpmd" not in configs:
        raise SystemExit("--configs must include testpmd (the reference of every ratio)")
    binaries = snapshot_binaries(a)
    if a.nice:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)  # inherited by every process and thread started later
    work = short_tmpdir("bvs")
    cpu = CpuMeter()
    samples = []
    header = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_start": load_average(),
              "rounds": a.rounds, "seconds": a.seconds, "warmup": a.warmup, "sizes": a.sizes,
              "configs": configs, "skipped": skipped, "population": 2 * a.tx_first * BURST,
              "backend_cpu": a.backend_cpu, "traffic_cpu": a.traffic_cpu, "binaries": binaries,
              "cpus": os.cpu_count(), "kernel": os.uname().release,
              "nice": os.getpriority(os.PRIO_PROCESS, 0)}
    print("# %s" % json.dumps(header), flush=True)
    try:
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            with RoundLock(a.lock):
                for config in order:
                    for s in run_session(config, a, work, cpu):
                        s["round"] = r
                        samples.append(s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header["load_end"] = load_average()
    header["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    summary = summarize(samples, configs, a.sizes)
    print_table(summary, header)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"run": header, "summary": summary, "samples": samples}, f, indent=1)
    if a.png:
        plot_png(summary, configs, a.sizes, a.png, header)
    bad = [s for s in samples if "error" in s or s["lost"] or s["traffic_dropped"]]
    if bad:
        print("# %d sample(s) failed or lost packets" % len(bad))
        return 1
    return 0


def file_identity(path):
    """path, the first 16 hex digits of its sha256 and its mtime, for the run header."""
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return {"path": path, "sha256": digest,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(path)))}


def snapshot_binaries(a):
    """Copies vhostd, vhostctl and the plugins once, so that a rebuild during the run
    does not mix two versions in one comparison; records each one's sha256."""
    dest = short_tmpdir("bvb")
    info = {}
    for name, path in (("vhostd", a.vhostd), ("vhostctl", a.vhostctl)):
        path = os.path.realpath(path)
        if not os.path.exists(path):
            raise SystemExit("%s not found: %s (bazel build //server:vhostd //client:vhostctl)" % (name, path))
        shutil.copy2(path, os.path.join(dest, name))
        info[name] = file_identity(path)
    plugins = os.path.join(os.path.dirname(os.path.realpath(a.vhostd)), "plugins")
    shutil.copytree(plugins, os.path.join(dest, "plugins"), symlinks=False)
    # The port types' data paths are in the plugins: a change there leaves vhostd as it was.
    for so in sorted(os.listdir(plugins)):
        info["plugins/" + so] = file_identity(os.path.realpath(os.path.join(plugins, so)))
    a.vhostd = os.path.join(dest, "vhostd")
    a.vhostctl = os.path.join(dest, "vhostctl")
    a.plugin_dir = os.path.join(dest, "plugins")
    atexit.register(shutil.rmtree, dest, True)
    return info


if __name__ == "__main__":
    sys.exit(main())
