#!/usr/bin/python3
"""Live migration of a running guest on one vhostd server-mode socket (guest_migrate.sh).

Guest a streams to guest b over TCP; the host starts a destination QEMU for a with
-incoming and the same NIC on the SAME vhostd socket (vhostd takes a second connection
there), migrates over QMP, quits the source. Checks: the stream's sha256, b's pings of a
(the longest gap is the downtime seen by the peer), a pinging b from the destination,
and vhostd's VhostUserStatus of the port: frontend_connections 1 -> 2 -> 1, feature_changes > 0 (QEMU
switches dirty logging, VHOST_F_LOG_ALL, on and off).

The guest's console: the source QEMU writes NAME.log in the run's log directory, the
destination writes dst/NAME.log; the guest's result is the destination's LAB-EXIT, its
checks those of both logs.

    migration_test.py [--vhostd BIN] [--log-dir DIR]
"""

import argparse
import json
import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmlib  # noqa: E402
from backends import VhostdBackend  # noqa: E402
from pair import PairRun  # noqa: E402
from restart_test import combined_scenario, port_status, state_name, wait_status  # noqa: E402


class Qmp:
    """A minimal QMP client on a Unix socket (no socat on the host)."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(30)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError("QMP %s: %s" % (name, reply["error"]))
            return reply.get("return")

    def close(self):
        self.sock.close()


class MigratedGuest:
    """Guest a across the migration: the source's checks, then the destination's; alive,
    exit status and result are the destination's."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.name = src.name
        self.console_log = dst.console_log

    def alive(self):
        return self.dst.alive()

    def poll(self):
        return self.dst.poll()

    def wait(self, timeout):
        return self.dst.wait(timeout)

    def kill(self):
        self.src.kill()
        self.dst.kill()

    def results(self):
        s, d = self.src.results(), self.dst.results()
        r = dict(d)
        for k in ("ok", "fail", "info"):
            r[k] = s[k] + d[k]
        r["metrics"] = dict(s["metrics"], **d["metrics"])
        r["boot_uptime"], r["script_uptime"] = s["boot_uptime"], s["script_uptime"]
        r["wall_seconds"] = (self.dst.ended or time.monotonic()) - self.src.started
        return r

    def tail(self, n=40):
        return "(source)\n%s\n(destination)\n%s" % (self.src.tail(n // 2), self.dst.tail(n))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Migration:
    def __init__(self, qmp_dir):
        self.src_qmp = os.path.join(qmp_dir, "src.qmp")
        self.dst_qmp = os.path.join(qmp_dir, "dst.qmp")
        self.report = {}
        self.errors = []

    def qemu_args(self):
        return {"a": ["-qmp", "unix:%s,server=on,wait=off" % self.src_qmp]}

    def hook(self, run):
        src = run.guests["a"]
        rep = self.report
        deadline = time.monotonic() + 90
        while not src.saw("LAB-INFO migrate: ready"):
            if time.monotonic() > deadline or not src.alive():
                raise RuntimeError("guest a never said 'migrate: ready'")
            time.sleep(0.1)
        st = port_status(run, "vm-a")
        rep["connections_before"], rep["feature_changes_before"] = st.user.frontend_connections, st.user.feature_changes

        # The destination: the same run-guest.sh command (same name, so the same guest
        # script in fw_cfg) in its own log directory, its own QMP socket, -incoming.
        dst_dir = os.path.join(src.log_dir, "dst")
        os.makedirs(dst_dir, exist_ok=True)
        port = _free_port()
        dst = vmlib.Guest(src.name, [], dst_dir)
        argv = list(src.argv)
        argv[argv.index("-l") + 1] = dst_dir
        argv[argv.index("unix:%s,server=on,wait=off" % self.src_qmp)] = "unix:%s,server=on,wait=off" % self.dst_qmp
        dst.argv = argv + ["-incoming", "tcp:127.0.0.1:%d" % port]
        with open(src.runner_log) as f:  # the source's accelerator; skips the KVM probe
            accel = "kvm" if "accel=kvm" in f.read() else "tcg"
        os.environ["LAB_ACCEL"] = accel
        dst.start()
        self.dst = dst
        dq = Qmp(self.dst_qmp)
        st = wait_status(run, "vm-a", lambda s: s.user.frontend_connections == 2, 30, "a second connection")
        rep["connections_during"] = st.user.frontend_connections
        dq.close()

        sq = Qmp(self.src_qmp)
        sq.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 30})
        t0 = time.monotonic()
        sq.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        saw_logging = False
        while True:
            info = sq.cmd("query-migrate")
            status = info.get("status")
            try:
                saw_logging |= port_status(run, "vm-a").user.dirty_logging
            except Exception:
                pass
            if status == "completed":
                break
            if status in ("failed", "cancelled") or time.monotonic() - t0 > 120:
                raise RuntimeError("migration %s: %s" % (status, info))
            time.sleep(0.1)
        rep["wall_ms"] = int((time.monotonic() - t0) * 1000)
        rep["total_time_ms"] = info.get("total-time")
        rep["downtime_ms"] = info.get("downtime")
        rep["setup_time_ms"] = info.get("setup-time")
        rep["ram_transferred_mb"] = round(info.get("ram", {}).get("transferred", 0) / 1048576.0, 1)
        rep["dirty_logging_seen"] = saw_logging
        rep["stream_running_at_completion"] = not src.saw("LAB-INFO migrate: stream done")
        # From now on guest a is the destination; the source QEMU quits.
        run.guests["a"] = MigratedGuest(src, dst)
        try:
            sq.cmd("quit")
        except (EOFError, OSError):
            pass
        sq.close()
        src.wait(20)
        st = wait_status(run, "vm-a",
                         lambda s: s.user.frontend_connections == 1 and s.state == run.backend.api.PortStatus.UP,
                         30, "one connection, UP")
        rep["connections_after"], rep["feature_changes_after"] = st.user.frontend_connections, st.user.feature_changes
        rep["state_after"] = state_name(run, st)
        rep["connects"], rep["disconnects"] = st.frontend_connects, st.frontend_disconnects
        if st.user.feature_changes <= rep["feature_changes_before"]:
            self.errors.append("vm-a: feature_changes stayed at %d during the migration" % st.user.feature_changes)
        if not rep["stream_running_at_completion"]:
            self.errors.append("guest a's stream ended before the migration completed: nothing was migrated mid-stream")
        return ("migrated in %s ms (QEMU total-time), downtime %s ms, %s MiB RAM; vm-a connections %d -> %d -> %d, "
                "feature_changes %d -> %d, dirty logging seen %s" % (
                    rep["total_time_ms"], rep["downtime_ms"], rep["ram_transferred_mb"], rep["connections_before"],
                    rep["connections_during"], rep["connections_after"], rep["feature_changes_before"],
                    rep["feature_changes_after"], saw_logging))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vhostd", help="vhostd binary (default: bazel-bin/server/vhostd)")
    p.add_argument("--stream-mb", type=int, default=16)
    p.add_argument("--log-dir")
    a = p.parse_args(argv)
    vmlib.lab_setup()
    with tempfile.TemporaryDirectory(prefix="vmm.", dir="/tmp") as work:
        mig = Migration(work)
        run = PairRun(VhostdBackend(binary=a.vhostd), scenario=combined_scenario("guest_migrate.sh", work),
                      env={"VM_STREAM_MB": a.stream_mb}, hooks={"migrate": mig.hook},
                      qemu_args=mig.qemu_args(), log_dir=a.log_dir, name_prefix="migr")
        try:
            result = run.run()
        finally:
            if getattr(mig, "dst", None):
                mig.dst.kill()
    result.errors += mig.errors
    print(result.report())
    for k, v in sorted(mig.report.items()):
        print("  migration %s = %s" % (k, v))
    if not result.ok:
        print("backend stats:\n" + result.backend_stats)
        for g in run.guests.values():
            print("--- last console lines of %s (%s)" % (g.name, g.console_log))
            print(g.tail(40))
    print("migration_test: %s" % ("PASS" if result.ok else "FAIL"))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
