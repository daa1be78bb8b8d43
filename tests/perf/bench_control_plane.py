#!/usr/bin/python3
"""Control plane at scale: N vhost-user ports through vhostd's API, and N dpdkvhostuser
ports added to OVS-DPDK in the same run for comparison.

Per round, each from a fresh daemon. As in a deployment with the default paths
(/var/lib/vhostd/state.json, /run/vhostd/sockets), the state file is on disk (the
temporary directory's file system, so every acknowledged change is really fsync'ed) and
the vhost-user sockets on tmpfs (--socket-base, default /dev/shm when it is tmpfs):
  * create N vhost-user ports (client mode by default: DPDK 22.11's lib/vhost watches
    every listener and connection in one set of 1023 descriptors, and vhostd reserves a
    server-mode port's listener and two connections, so at most 341 server-mode ports
    fit; a client-mode port takes one and keeps trying to connect until its frontend
    listens) one CreatePort call after the other (one client, as a
    script or an orchestrator's reconcile loop does), then delete them the same way:
    seconds for each, and their sum (target: < 2 s for 1,000);
  * the same with --clients concurrent clients (where group commit can help);
  * ListPorts of the N ports (page_size 1000, every page): median and max of --lists calls
    (target: < 20 ms);
  * memory per idle port: the daemon's RSS after the N ports exist (and the creates have
    settled) minus its RSS before, divided by N; threads and open files too.
OVS-DPDK (ovs-vswitchd-dpdk 3.1, its own ovsdb-server, one PMD): the N ports added with
one `ovs-vsctl add-port` each (it waits until ovs-vswitchd has applied the change, as
CreatePort does), `ovs-vsctl list-ports`, RSS per port, then deleted one by one. OVS
reconfigures every port on each change, so this is capped by --ovs-timeout; the count
reached is reported.

    bench_control_plane.py [--ports 1000] [--rounds 3] [--clients 8] [--no-ovs] [--out FILE]
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
sys.path.insert(0, HERE)
from bench_vswitch_host import RoundLock, load_average  # noqa: E402
from bench_vswitch_ovs import OvsDpdk, available as ovs_unavailable_reason  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402


def socket_base(requested, work):
    if requested:
        return requested
    with open("/proc/mounts") as f:
        if any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f):
            return "/dev/shm"
    return work


def proc_status(pid):
    """VmRSS (KiB), threads and open file descriptors of a process."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"]),
            "fds": len(os.listdir("/proc/%d/fd" % pid))}


def in_parallel(names, clients, call):
    """Calls call(name) for every name from `clients` threads; returns the seconds taken."""
    chunks = [names[i::clients] for i in range(clients)]
    errors = []

    def worker(chunk):
        try:
            for name in chunk:
                call(name)
        except Exception as e:  # reported after the join
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        raise errors[0]
    return elapsed


def list_all(stub, api):
    ports, token = 0, ""
    while True:
        r = stub.ListPorts(api.ListPortsRequest(page_size=1000, page_token=token))
        ports += len(r.ports)
        token = r.next_page_token
        if not token:
            return ports


def vhostd_round(a, work, clients):
    api = import_api()
    d = Vhostd(os.path.join(work, "vhostd"), cores=str(a.backend_cpu),
               extra_flags=["--metrics-address=", "--max-ports=%d" % a.ports],
               file_prefix="bcp%d" % os.getpid())
    d.socket_dir = a.socket_dir
    d.argv = [x if not x.startswith("--socket-dir=") else "--socket-dir=" + a.socket_dir for x in d.argv]
    if a.vhostd:
        d.argv[0] = a.vhostd
    d.start()
    try:
        stub = d.stub()
        names = ["port-%04d" % i for i in range(a.ports)]

        def create(name):
            stub.CreatePort(api.CreatePortRequest(
                port=vhost_user_port(name, socket_path=os.path.join(d.socket_dir, name + ".sock"),
                                     mode="MODE_CLIENT" if a.mode == "client" else "MODE_SERVER")))

        def delete(name):
            stub.DeletePort(api.DeletePortRequest(name=name))

        create("warm-up")
        delete("warm-up")
        time.sleep(1)
        before = proc_status(d.proc.pid)
        t_create = in_parallel(names, clients, create)
        time.sleep(2)  # let the ports settle (reconciler, sockets listening)
        after = proc_status(d.proc.pid)
        lists = []
        for _ in range(a.lists):
            t0 = time.monotonic()
            n = list_all(stub, api)
            lists.append(time.monotonic() - t0)
            if n != a.ports:
                raise RuntimeError("ListPorts returned %d ports, expected %d" % (n, a.ports))
        t_delete = in_parallel(names, clients, delete)
        left = list_all(stub, api)
        if left:
            raise RuntimeError("%d ports left after deleting them all" % left)
        return {"clients": clients, "create_s": t_create, "delete_s": t_delete, "total_s": t_create + t_delete,
                "list_ms_median": 1e3 * statistics.median(lists), "list_ms_max": 1e3 * max(lists),
                "rss_kib_before": before["rss_kib"], "rss_kib_after": after["rss_kib"],
                "rss_kib_per_port": (after["rss_kib"] - before["rss_kib"]) / a.ports,
                "threads_before": before["threads"], "threads_after": after["threads"],
                "fds_per_port": (after["fds"] - before["fds"]) / a.ports}
    finally:
        d.stop()
        shutil.rmtree(os.path.join(work, "vhostd"), ignore_errors=True)


def ovs_round(a, work):
    ovs = OvsDpdk(os.path.join(work, "ovs"), pmd_cpu=a.backend_cpu, file_prefix="bco%d" % os.getpid(),
                  rundir=os.path.join(a.socket_dir, "ovs"))
    ovs.start()
    try:
        ovs.add_bridge("br0")
        time.sleep(1)
        before = ovs.rss_kib()
        names = ["vhu%04d" % i for i in range(a.ports)]
        added, t0 = 0, time.monotonic()
        for name in names:
            ovs.add_vhost_port("br0", name)
            added += 1
            if time.monotonic() - t0 > a.ovs_timeout:
                break
        t_add = time.monotonic() - t0
        time.sleep(2)
        after = ovs.rss_kib()
        t0 = time.monotonic()
        listed = len(ovs.vsctl("list-ports", "br0").split())
        t_list = time.monotonic() - t0
        t0 = time.monotonic()
        for name in names[:added]:
            ovs.vsctl("del-port", "br0", name)
        t_del = time.monotonic() - t0
        return {"ports_added": added, "add_s": t_add, "delete_s": t_del, "total_s": t_add + t_del,
                "add_s_per_port_ms": 1e3 * t_add / added, "list_ms": 1e3 * t_list, "listed": listed,
                "rss_kib_per_port": (after - before) / added, "capped": added < a.ports}
    finally:
        ovs.stop()
        shutil.rmtree(os.path.join(work, "ovs"), ignore_errors=True)


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def report(results, a):
    print("\n| system | clients | ports | create s | delete s | total s | list ms (median/max) | RSS KiB/port |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for clients in sorted({r["clients"] for r in results["vhostd"]}):
        rows = [r for r in results["vhostd"] if r["clients"] == clients]
        print("| vhostd | %d | %d | %.3f | %.3f | **%.3f** | %.1f / %.1f | %.1f |" % (
            clients, a.ports, med(rows, "create_s"), med(rows, "delete_s"), med(rows, "total_s"),
            med(rows, "list_ms_median"), max(r["list_ms_max"] for r in rows), med(rows, "rss_kib_per_port")))
    for r in results.get("ovs", []):
        print("| OVS-DPDK | 1 | %d%s | %.3f | %.3f | %.3f | %.1f (list-ports) | %.1f |" % (
            r["ports_added"], " (capped)" if r["capped"] else "", r["add_s"], r["delete_s"], r["total_s"],
            r["list_ms"], r["rss_kib_per_port"]))
    print("medians of %d rounds; vhostd's ports in %s mode; vhostd threads %s -> %s" % (
        a.rounds, a.mode, results["vhostd"][0]["threads_before"], results["vhostd"][0]["threads_after"]))


def exit_on_signal(signum, _frame):
    """SIGTERM and SIGINT end the run through its finally blocks, which stop what it started."""
    raise SystemExit("interrupted by signal %d" % signum)


def main(argv=None):
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ports", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mode", choices=["client", "server"], default="client",
                   help="vhostd's vhost-user mode; server mode fits at most 341 ports (see the docstring)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients of the parallel variant; 1: none")
    p.add_argument("--lists", type=int, default=20, help="ListPorts calls timed per round")
    p.add_argument("--backend-cpu", type=int, default=1)
    p.add_argument("--vhostd", help="daemon binary (default: bazel-bin/server/vhostd)")
    p.add_argument("--socket-base", help="where the sockets go (default: /dev/shm if it is tmpfs, else the "
                   "temporary directory)")
    p.add_argument("--no-ovs", action="store_true")
    p.add_argument("--ovs-timeout", type=float, default=300, help="stop adding OVS ports after this many seconds")
    p.add_argument("--nice", type=int, default=-10, help="niceness of the benchmark and what it starts; 0 leaves it")
    p.add_argument("--lock", action="append", default=[], help="flock this file for each round; repeatable")
    p.add_argument("--out")
    a = p.parse_args(argv)
    if a.ports < 1 or a.ports > 1000 or a.rounds < 1 or a.clients < 1:
        p.error("--ports must be 1..1000 (one ListPorts page), --rounds and --clients positive")
    if os.geteuid() != 0:
        raise SystemExit("run as root (DPDK, OVS)")
    if a.nice:
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)
    ovs_reason = "--no-ovs" if a.no_ovs else ovs_unavailable_reason()
    work = short_tmpdir("bcp")
    a.socket_dir = tempfile.mkdtemp(prefix="bcp.", dir=socket_base(a.socket_base, work))
    results = {"run": {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "ports": a.ports,
                       "state_dir": work, "socket_dir": a.socket_dir,
                       "rounds": a.rounds, "mode": a.mode, "load_start": load_average()}, "vhostd": [], "ovs": []}
    try:
        for r in range(a.rounds):
            with RoundLock(a.lock):
                for clients in sorted({1, a.clients}):
                    row = vhostd_round(a, work, clients)
                    row.update(round=r, load1=load_average()[0])
                    results["vhostd"].append(row)
                    print("vhostd  round %d clients %d: create %.3f s delete %.3f s total %.3f s, list %.1f ms, "
                          "%.1f KiB/port (load1 %.2f)" % (r, clients, row["create_s"], row["delete_s"],
                                                          row["total_s"], row["list_ms_median"],
                                                          row["rss_kib_per_port"], row["load1"]), flush=True)
                if ovs_reason is None and r == 0:
                    row = ovs_round(a, work)
                    results["ovs"].append(row)
                    print("ovs     added %d ports in %.1f s (%.1f ms each), deleted in %.1f s, %.1f KiB/port"
                          % (row["ports_added"], row["add_s"], row["add_s_per_port_ms"], row["delete_s"],
                             row["rss_kib_per_port"]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(a.socket_dir, ignore_errors=True)
    if ovs_reason:
        print("# OVS-DPDK not measured: " + ovs_reason)
    results["run"]["load_end"] = load_average()
    print("# load average: start %s, end %s" % (results["run"]["load_start"], results["run"]["load_end"]))
    report(results, a)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
