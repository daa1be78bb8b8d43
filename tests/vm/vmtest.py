"""Shared pieces of the offload and multiqueue VM tests (offload_mix_test.py,
multiqueue_test.py): scenario assembly, one named pair run with its own log directory,
host-side checks on vhostd, and the per-poll lib/vhost error lines in vhostd's log."""

import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pair import PairRun  # noqa: E402

# lib/vhost's data-path log lines (VHOST_LOG_DATA: "VHOST_DATA: (socket) func: ..."),
# e.g. "invalid virtqueue idx": printed per burst when a ring is polled that the
# frontend did not set up or enable.
VHOST_DATA_ERROR = re.compile(r"VHOST_DATA|invalid virtqueue idx")


def scenario(parts, workdir):
    """One file of tests/vm scripts PARTS (vmlib prepends guest_lib.sh)."""
    out = os.path.join(workdir, "+".join(os.path.splitext(p)[0] for p in parts) + ".sh")
    with open(out, "w") as f:
        for part in parts:
            with open(os.path.join(HERE, part)) as src:
                f.write(src.read() + "\n")
    return out


def log_root(arg):
    root = arg or os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or tempfile.mkdtemp(prefix="vmlogs.", dir="/tmp")
    os.makedirs(root, exist_ok=True)
    return root


def run_pair(name, backend, log_root_dir, **kw):
    """PairRun with logs in LOG_ROOT/NAME (vhostd.log included); prints its report."""
    log_dir = os.path.join(log_root_dir, name)
    os.makedirs(log_dir, exist_ok=True)
    run = PairRun(backend, log_dir=log_dir, name_prefix=name, **kw)
    result = run.run()
    result.name = name
    print(result.report().replace("pair test on", "%s on" % name, 1))
    if not result.ok:
        print("backend stats:\n" + result.backend_stats)
        for g in run.guests.values():
            print("--- last console lines of %s (%s)" % (g.name, g.console_log))
            print(g.tail(25))
    print("  logs: %s" % log_dir)
    return run, result


def vhost_data_errors(log_dir):
    """lib/vhost data-path error lines in LOG_DIR/vhostd.log."""
    try:
        with open(os.path.join(log_dir, "vhostd.log"), errors="replace") as f:
            return [l.rstrip() for l in f if VHOST_DATA_ERROR.search(l)]
    except OSError as e:
        return ["cannot read vhostd.log: %s" % e]


def port_status(run, name):
    api = run.backend.api
    return run.backend.daemon.stub().GetPort(api.GetPortRequest(name=name)).status


def port_stats(run, name):
    api = run.backend.api
    return run.backend.daemon.stub().GetPortStats(api.GetPortStatsRequest(name=name))


def wait_for(pred, timeout, what):
    """Polls PRED (returns (ok, detail)) until ok or TIMEOUT; AssertionError with detail."""
    deadline = time.monotonic() + timeout
    while True:
        ok, detail = pred()
        if ok:
            return detail
        if time.monotonic() > deadline:
            raise AssertionError("%s: %s" % (what, detail))
        time.sleep(0.2)


def queue_rx(stats):
    return {q.queue: q.rx_packets for q in stats.queues}


def vhost_log_problem(name, result):
    """A failure line when the run's vhostd.log has lib/vhost data-path errors, else None."""
    errs = vhost_data_errors(result.log_dir)
    if not errs:
        return None
    return "%s: %d lib/vhost data-path error lines in vhostd.log, first: %s" % (name, len(errs), errs[0])


def print_throughput(results):
    for r in results:
        for k, v in sorted(r.metrics.items()):
            if k.endswith("MBps"):
                print("throughput %s %s = %s MB/s" % (r.name, k, v))


def summary(results, extra_fails=()):
    """Final verdict over several runs; returns the exit status."""
    fails = [("%s: %s" % (r.name, f)) for r in results for f in (r.fails() or ([] if r.ok else ["failed"]))]
    fails += list(extra_fails)
    wall = sum(r.wall for r in results)
    print("=" * 70)
    for r in results:
        print("%-14s %s  %.1f s" % (r.name, "PASS" if r.ok else "FAIL", r.wall))
    for f in fails:
        print("FAIL " + f)
    print("%s (%.1f s of guest runs)" % ("PASS" if not fails else "FAIL", wall))
    return 0 if not fails else 1
