#!/usr/bin/python3
"""Two Linux guests (QEMU, the kernel's virtio-net driver) on one backend: boots both in
the background with a scenario script (default guest_pair.sh: ping, then a TCP transfer
each way with sha256 checks), runs host actions at the scenario's hooks, waits for both,
and reports every check and metric. Always stops QEMU and the backend, also on errors,
timeouts and signals.

    pair.py --backend vhostd|vhostd-bridge|testpmd|socket [--queues N] [--mtu N] [--ethtool ARGS]
            [--size-mb N] [--log-dir DIR] [--json FILE] [--vhostd BIN]

From Python (for further tests; see README.md):

    run = PairRun(VhostdBackend(queues=2), queues=2, cpus=2, mtu=9000,
                  ethtool="-K eth0 tx off tso off gso off",
                  hooks={"after-ping": lambda run: run.backend.restart()})
    result = run.run()          # PairResult: .ok, .guests[role], .metrics, .report()
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmlib  # noqa: E402
from backends import BACKENDS, ROLES  # noqa: E402

SCENARIO = os.path.join(HERE, "guest_pair.sh")
MACS = ("52:54:00:00:00:01", "52:54:00:00:00:02")  # QEMU's default MAC would be shared


class PairResult:
    def __init__(self, backend, guests, backend_stats, wall, errors):
        self.backend = backend
        self.guests = guests          # role -> Guest.results()
        self.backend_stats = backend_stats
        self.wall = wall
        self.errors = errors          # host-side problems (timeouts, hook failures)
        self.metrics = {}
        for r in guests.values():
            self.metrics.update(r["metrics"])

    @property
    def ok(self):
        return not self.errors and all(r["returncode"] == 0 and r["ok"] and not r["fail"]
                                       for r in self.guests.values())

    def fails(self):
        return ["%s: %s" % (role, f) for role, r in self.guests.items() for f in r["fail"]] + self.errors

    def report(self):
        lines = ["pair test on %s: %s (%.1f s wall)" % (self.backend, "PASS" if self.ok else "FAIL", self.wall)]
        for role, r in sorted(self.guests.items()):
            lines.append("  guest %s: rc=%s wall=%s boot_uptime=%s scripts_from=%s %s" % (
                role, r["returncode"], _fmt(r["wall_seconds"]), r["boot_uptime"], r["script_uptime"],
                r["result"] or "(no LAB-RESULT)"))
            lines += ["    ok   %s" % x for x in r["ok"]]
            lines += ["    FAIL %s" % x for x in r["fail"]]
            lines += ["    info %s" % x for x in r["info"] if x.startswith(("tcp-diag", "hook", "offloads"))]
        lines += ["  metric %s = %s" % kv for kv in sorted(self.metrics.items())]
        lines += ["  host error: %s" % e for e in self.errors]
        return "\n".join(lines)


def _fmt(x):
    return "%.1fs" % x if isinstance(x, float) else str(x)


class PairRun:
    """One pair test. Parameters that later tests vary:

    backend         a backends.* instance
    scenario        in-guest script (busybox sh), run in both guests with VM_ROLE a / b
    queues, mtu, ethtool, size_mb, tcp_timeout, ping_count: passed to the guests
                    (VM_QUEUES, VM_MTU, VM_ETHTOOL, VM_SIZE_MB, VM_TCP_TIMEOUT, VM_PING_COUNT)
    env             more VM_* variables for the scenario; a dict, or per role {"a": {...}}
    hooks           {name: fn(run)}: when both guests reach vm_hook NAME, fn runs on the
                    host; its return value is passed back to the guests (info line)
    qemu_args       extra QEMU args per role {"a": [...]} (e.g. -incoming for migration)
    cpus, mem_mb    per guest (-smp 1 leaves the other CPU to the polling core)
    timeout         seconds for the whole run (each guest's run-guest.sh -t)
    log_dir         console logs; default: bazel's undeclared outputs or a temp dir
    """

    def __init__(self, backend, scenario=SCENARIO, queues=1, mtu=None, ethtool=None, size_mb=8,
                 tcp_timeout=90, ping_count=10, env=None, hooks=None, qemu_args=None, cpus=1,
                 mem_mb=512, timeout=None, log_dir=None, name_prefix=None):
        self.backend = backend
        self.scenario = scenario
        self.hooks = dict(hooks or {})
        self.qemu_args = qemu_args or {}
        self.cpus, self.mem_mb = cpus, mem_mb
        self.timeout = timeout or 120 + 2 * (tcp_timeout + 40) + 60 * len(self.hooks)
        self.log_dir = log_dir or os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        self.prefix = name_prefix or backend.name
        base = {"VM_QUEUES": queues, "VM_MTU": mtu or "", "VM_ETHTOOL": ethtool or "",
                "VM_SIZE_MB": size_mb, "VM_TCP_TIMEOUT": tcp_timeout, "VM_PING_COUNT": ping_count,
                "VM_HOOKS": " ".join(self.hooks), "VM_WAIT": 60}
        env = env or {}
        self.env = {}
        for i, role in enumerate(ROLES):
            peer = ROLES[1 - i]
            e = dict(base, VM_ROLE=role, VM_PEER=peer, VM_IP="10.99.0.%d" % (i + 1),
                     VM_PEER_IP="10.99.0.%d" % (2 - i), VM_PEER_MAC=MACS[1 - i])
            e.update(env.get(role, {}) if set(env) <= set(ROLES) else env)
            self.env[role] = {k: str(v) for k, v in e.items()}
        self.guests = {}
        self.share = None

    def run(self):
        t0 = time.monotonic()
        # Short paths: vhost-user socket names must fit sun_path.
        work = tempfile.mkdtemp(prefix="vm.", dir="/tmp")
        own_logs = self.log_dir is None
        log_dir = self.log_dir or os.path.join(work, "logs")
        os.makedirs(log_dir, exist_ok=True)
        self.share = os.path.join(work, "share")
        os.makedirs(self.share)
        errors, stats = [], ""
        previous = _raise_on_signals()
        try:
            self.backend.start(work, log_dir)
            script = vmlib.scenario_script(self.scenario, os.path.join(work, os.path.basename(self.scenario)))
            for i, role in enumerate(ROLES):
                args = (self.backend.nic_args(i, MACS[i], self.mem_mb) + vmlib.share_dir_args(self.share)
                        + list(self.qemu_args.get(role, [])))
                self.guests[role] = vmlib.Guest("%s-%s" % (self.prefix, role), [script], log_dir,
                                                mem_mb=self.mem_mb, cpus=self.cpus, timeout=self.timeout,
                                                env=self.env[role], qemu_args=args)
                self.backend.before_guest(i)
                self.guests[role].start()
            self.backend.after_guests_started(self.guests)
            errors += self._supervise()
            if hasattr(self.backend, "verify"):
                errors += self.backend.verify(MACS)
            stats = self._stats()
        except BaseException as e:  # also KeyboardInterrupt / SystemExit from a signal
            errors.append("%s: %s" % (type(e).__name__, e))
            stats = self._stats()
        finally:
            for g in self.guests.values():
                g.kill()
            try:
                self.backend.stop()
            except Exception as e:
                errors.append("stopping %s: %s" % (self.backend.name, e))
            _restore_signals(previous)
        result = PairResult(self.backend.name, {r: g.results() for r, g in self.guests.items()},
                            stats, time.monotonic() - t0, errors)
        result.log_dir = log_dir
        if own_logs and not result.ok:
            shutil.rmtree(self.share, ignore_errors=True)  # keep the logs in the work dir
        else:
            shutil.rmtree(work, ignore_errors=True)
        return result

    def _supervise(self):
        """Waits for both guests, running hooks when both reached them."""
        deadline = time.monotonic() + self.timeout + 30
        pending = list(self.hooks)
        errors = []
        while any(g.alive() for g in self.guests.values()):
            for name in list(pending):
                if all(os.path.exists(os.path.join(self.share, "%s.hook.%s" % (r, name))) for r in ROLES):
                    pending.remove(name)
                    try:
                        note = self.hooks[name](self)
                    except Exception as e:
                        errors.append("hook %s: %s: %s" % (name, type(e).__name__, e))
                        note = "failed on the host"
                    _write(os.path.join(self.share, "host." + name), str(note))
            if any(g.poll() not in (None, 0) for g in self.guests.values()):
                # One guest failed: give the other a little time to finish its part.
                survivors = [g for g in self.guests.values() if g.alive()]
                for g in survivors:
                    g.wait(30)
                break
            if time.monotonic() > deadline:
                errors.append("guests still running after %d s" % (self.timeout + 30))
                break
            time.sleep(0.2)
        for g in self.guests.values():
            if g.alive():
                errors.append("guest %s killed (still running)" % g.name)
        return errors

    def _stats(self):
        try:
            return self.backend.stats()
        except Exception as e:
            return "stats unavailable: %s" % e


def _write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def _raise_on_signals():
    """SIGTERM/SIGHUP (bazel's timeout, a killed shell) unwind like Ctrl-C, so that the
    cleanup in run() stops QEMU and the backend."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    return {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}


def _restore_signals(previous):
    for s, h in previous.items():
        signal.signal(s, h)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=sorted(BACKENDS), default="vhostd")
    p.add_argument("--queues", type=int, default=1)
    p.add_argument("--cpus", type=int, default=1, help="guest CPUs")
    p.add_argument("--mtu", type=int)
    p.add_argument("--ethtool", help="ethtool argument lists for eth0, ';'-separated")
    p.add_argument("--size-mb", type=int, default=8, help="TCP payload per direction")
    p.add_argument("--tcp-timeout", type=int, default=90)
    p.add_argument("--vhostd", help="vhostd binary (default: bazel-bin/server/vhostd)")
    p.add_argument("--log-dir")
    p.add_argument("--json", help="write the result (checks, metrics) to this file")
    a = p.parse_args(argv)
    vmlib.lab_setup()
    if a.backend.startswith("vhostd"):
        backend = BACKENDS[a.backend](queues=a.queues, binary=a.vhostd)
    else:
        backend = BACKENDS[a.backend](queues=a.queues)
    run = PairRun(backend, queues=a.queues, cpus=a.cpus, mtu=a.mtu, ethtool=a.ethtool,
                  size_mb=a.size_mb, tcp_timeout=a.tcp_timeout, log_dir=a.log_dir)
    result = run.run()
    print(result.report())
    if not result.ok:
        print("backend stats:\n" + result.backend_stats)
        for g in run.guests.values():
            print("--- last console lines of %s (%s)" % (g.name, g.console_log))
            print(g.tail(25))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"backend": result.backend, "ok": result.ok, "wall": result.wall,
                       "metrics": result.metrics, "fails": result.fails(), "guests": result.guests}, f, indent=1)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
