#!/usr/bin/python3
"""Multiqueue vhost-user ports with real guests (guest_mq.sh), two runs:

  mq2      both guests 2 queue pairs (QEMU queues=2, mq=on, -smp 2; the guests run
           `ethtool -L eth0 combined 2`) on 2-queue ports, vhostd with two polling
           cores (--cores=0-1; the rx queues must be spread over both):
           flows   2 TCP flows each way at once: vhostd's per-queue rx_packets of queues
                   0 and 1 are > 0 on both ports, active_queues 2 on both;
           resize  2 flows each way again, and guest a runs `ethtool -L eth0 combined 1`
                   while they run: all arrive intact (sha256), then port vm-a reports
                   active_queues 1 (vm-b still 2);
           after   1 flow each way on the reduced set-up.
  fewer    guest a with 1 queue pair (QEMU queues=1) on a 4-queue port (spec queues=4),
           guest b default: 1 flow each way intact; vm-a active_queues 1.

For both: vhostd's log must hold no lib/vhost data-path lines (VHOST_DATA, "invalid
virtqueue idx"): vhostd polls only the rings the frontend enabled, so there is none
to expect, not even at connect time. Every transfer checks Tcp InCsumErrors too.

    multiqueue_test.py [--vhostd BIN] [--only mq2|fewer] [--size-mb N] [--log-dir DIR]
"""

import argparse
import sys

import vmtest
from backends import VhostdBackend
import vmlib


def active(run, port):
    return vmtest.port_status(run, port).active_queues


def check_active(run, want, timeout=10):
    """Waits until every port in WANT {port: n} reports active_queues n."""
    def pred():
        got = {p: active(run, p) for p in want}
        return got == want, "active_queues %s, want %s" % (got, want)
    return vmtest.wait_for(pred, timeout, "active queues")


class Hooks:
    def __init__(self):
        self.notes = {}

    def queues(self, run):
        check_active(run, {"vm-a": 2, "vm-b": 2})
        rx = {p: vmtest.queue_rx(vmtest.port_stats(run, p)) for p in ("vm-a", "vm-b")}
        self.notes["queues"] = "per-queue rx_packets %s" % rx
        idle = ["%s queue %d" % (p, q) for p in sorted(rx) for q in (0, 1) if rx[p].get(q, 0) == 0]
        if idle:
            raise AssertionError("no packets received on %s (%s)" % (", ".join(idle), self.notes["queues"]))
        # Two polling cores (--cores=0-1): the four rx queues are shared out, each on one core.
        lcores = {(p, q.queue): q.lcore for p in rx for q in vmtest.port_status(run, p).queues}
        if len(set(lcores.values())) != 2 or -1 in lcores.values():
            raise AssertionError("rx queues not spread over both polling cores: %s" % lcores)
        self.notes["lcores"] = "rx queue -> lcore %s" % sorted(lcores.items())
        # vm-b's two rx queues on the two cores: once guest a is down to one queue pair,
        # both cores send to vm-a's one tx queue, and share it under its lock.
        other = next(l for l in set(lcores.values()) if l != lcores[("vm-b", 0)])
        api = run.backend.api
        run.backend.daemon.stub().PinQueue(api.PinQueueRequest(pin=api.QueuePin(port="vm-b", queue=1, lcore=other)))
        return "both queues carried packets on both ports: " + self.notes["queues"] + "; " + self.notes["lcores"]

    def lcore_of(self, run, port, queue):
        return next(q.lcore for q in vmtest.port_status(run, port).queues if q.queue == queue)

    def resized(self, run):
        check_active(run, {"vm-a": 1, "vm-b": 2})
        st = vmtest.port_status(run, "vm-a")
        enabled = [(q.queue, q.rx_enabled, q.tx_enabled) for q in st.queues]
        self.notes["resized"] = "vm-a active_queues 1 (queue, rx_enabled, tx_enabled) %s" % enabled
        b_lcores = (self.lcore_of(run, "vm-b", 0), self.lcore_of(run, "vm-b", 1))
        if b_lcores[0] == b_lcores[1] or -1 in b_lcores:
            raise AssertionError("vm-b's rx queues 0 and 1 on lcores %s, not on the two cores" % (b_lcores,))
        self.notes["shared"] = ("vm-b rx queues on lcores %d and %d: both write vm-a's one tx queue, under its lock"
                                % b_lcores)
        return self.notes["resized"] + "; " + self.notes["shared"]

    def end(self, run):
        check_active(run, {"vm-a": 1, "vm-b": 1})
        st = vmtest.port_status(run, "vm-a")
        self.notes["end"] = "vm-a (spec queues 4) active_queues %d, queues in status %d" % (
            st.active_queues, len(st.queues))
        return self.notes["end"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vhostd", help="vhostd binary (default: bazel-bin/server/vhostd)")
    p.add_argument("--only", choices=("mq2", "fewer"))
    p.add_argument("--size-mb", type=int, default=8)
    p.add_argument("--log-dir")
    a = p.parse_args(argv)
    vmlib.lab_setup()
    logs = vmtest.log_root(a.log_dir)
    script = vmtest.scenario(["guest_flows.sh", "guest_mq.sh"], logs)
    results, extra = [], []
    runs = [
        ("mq2", dict(queues=2, cores="0-1"), dict(queues=2, cpus=2, env={"VM_MQ_MODE": "resize", "VM_MQ_RESIZE": "a"},
                                     hook_names=("queues", "resized"))),
        ("fewer", dict(queues=1, role_options={"a": {"queues": 4}}),
         dict(queues=1, cpus=1, env={"VM_MQ_MODE": "plain"}, hook_names=("end",))),
    ]
    for name, backend_kw, kw in runs:
        if a.only and name != a.only:
            continue
        hooks = Hooks()
        names = kw.pop("hook_names")
        _, result = vmtest.run_pair(name, VhostdBackend(binary=a.vhostd, **backend_kw), logs, scenario=script,
                                    size_mb=a.size_mb, tcp_timeout=60,
                                    hooks={h: getattr(hooks, h) for h in names}, **kw)
        results.append(result)
        errs = vmtest.vhost_data_errors(result.log_dir)
        print("  host: %s; lib/vhost data-path lines in vhostd.log: %d" % (
            "; ".join("%s: %s" % kv for kv in sorted(hooks.notes.items())), len(errs)))
        for line in errs[:5]:
            print("    " + line)
        problem = vmtest.vhost_log_problem(name, result)
        if problem:
            extra.append(problem)
    vmtest.print_throughput(results)
    return vmtest.summary(results, extra)


if __name__ == "__main__":
    sys.exit(main())
