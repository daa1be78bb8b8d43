#!/usr/bin/python3
"""vhostd restarts and frontend lifecycle with real guests (guest_restart.sh), two runs:

  server  vhostd is the socket server, QEMU reconnect=1:
          (a) vhostd SIGKILLed and restarted (same state file and socket dir) while a
              pings b every 0.1 s: the pings resume, the outage is measured, then 8 MiB
              TCP a -> b with sha256;
          (c) b reboots (`reboot -f`, QEMU resets it): its port counts a frontend
              disconnect, is UP again, and b answers pings.
  client  vhostd dials QEMU's listening sockets (mode CLIENT):
          (b) ping + 8 MiB TCP;
          (d) two more client ports on QEMUs that only listen (no guest: the vhost-user
              handshake needs none), one with no_reconnect: both QEMUs SIGKILLed and
              started again on the same sockets; the normal port reconnects, the
              no_reconnect one stays WAITING_FOR_PEER, saying so, for 5 s more.

    restart_test.py [--vhostd BIN] [--only server|client] [--log-dir DIR]
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmlib  # noqa: E402
from backends import VhostdBackend  # noqa: E402
from pair import PairRun  # noqa: E402

OUTAGE_MAX_MS = 15000


def combined_scenario(name, workdir):
    """guest_tcp.sh + the scenario in one file (vmlib prepends guest_lib.sh)."""
    out = os.path.join(workdir, name)
    with open(out, "w") as f:
        for part in ("guest_tcp.sh", name):
            with open(os.path.join(HERE, part)) as src:
                f.write(src.read() + "\n")
    return out


def port_status(run, name):
    """The port's status, with its vhost-user status (VhostUserStatus) as `.user`: all
    zero for a port without a backend (ERROR), which reports none."""
    from vhostd_proc import type_status_of
    api = run.backend.api
    status = run.backend.daemon.stub().GetPort(api.GetPortRequest(name=name)).status
    user = type_status_of(status)
    return PortView(status, user if user is not None else api.VhostUserStatus())


class PortView:
    """A PortStatus and its type's status: attributes of the former, plus `user`."""

    def __init__(self, status, user):
        self.status, self.user = status, user

    def __getattr__(self, name):
        return getattr(self.status, name)


def state_name(run, status):
    return run.backend.api.PortStatus.State.Name(status.state)


def wait_status(run, name, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        st = port_status(run, name)
        if pred(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError("port %s: %s not reached within %d s (state %s, connections %d, "
                                 "connects %d, disconnects %d, message '%s')" % (
                                     name, what, timeout, state_name(run, st), st.user.frontend_connections,
                                     st.frontend_connects, st.frontend_disconnects, st.message))
        time.sleep(0.2)


# --- server run: restart and reboot hooks ----------------------------------------------

class ServerHooks:
    def __init__(self):
        self.before = None
        self.notes = {}

    def restart(self, run):
        secs = run.backend.restart(signal.SIGKILL)
        ports = [p.name for p in run.backend.daemon.stub().ListPorts(run.backend.api.ListPortsRequest()).ports]
        self.notes["restart"] = "vhostd SIGKILLed and serving again after %.2f s, ports %s" % (secs, ports)
        return self.notes["restart"]

    def before_reboot(self, run):
        self.before = port_status(run, "vm-b")
        return "vm-b before the reboot: %s, connects %d, disconnects %d" % (
            state_name(run, self.before), self.before.frontend_connects, self.before.frontend_disconnects)

    def after_reboot(self, run):
        b0 = self.before
        st = wait_status(run, "vm-b", lambda s: s.state == run.backend.api.PortStatus.UP
                         and s.frontend_disconnects > b0.frontend_disconnects
                         and s.frontend_connects > b0.frontend_connects, 20, "UP after a disconnect")
        self.notes["reboot"] = ("vm-b after the reboot: %s, frontend_disconnects %d -> %d, "
                                "frontend_connects %d -> %d" % (state_name(run, st), b0.frontend_disconnects,
                                                                st.frontend_disconnects, b0.frontend_connects,
                                                                st.frontend_connects))
        return self.notes["reboot"]


# --- client run: no_reconnect ------------------------------------------------------------

class ListeningQemu:
    """A QEMU that only listens on a vhost-user socket (CPU stopped, no guest): enough
    for the vhost-user handshake, which a connecting backend starts at once."""

    def __init__(self, sock, log_path):
        self.sock, self.log_path, self.proc = sock, log_path, None

    def start(self):
        argv = (["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-S",
                 "-machine", "pc", "-accel", "tcg", "-m", "64"]
                + vmlib.shared_memory(64)
                + ["-chardev", "socket,id=c0,path=%s,server=on,wait=off" % self.sock,
                   "-netdev", "vhost-user,id=n0,chardev=c0"] + vmlib.nic_device("n0", "52:54:00:00:01:01"))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("listening QEMU on %s did not start (see %s)" % (self.sock, self.log_path))
            time.sleep(0.1)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def no_reconnect_check(run):
    from vhostd_proc import vhost_user_port
    b, api = run.backend, run.backend.api
    stub = b.daemon.stub()
    log_dir = os.path.dirname(b.daemon.log_path)
    socks = {n: os.path.join(b.daemon.socket_dir, "%s.sock" % n) for n in ("nr-off", "nr-on")}
    qemus = {}
    try:
        for n, s in socks.items():
            qemus[n] = ListeningQemu(s, os.path.join(log_dir, "qemu-%s.log" % n)).start()
            port = vhost_user_port(n, socket_path=s, mode="MODE_CLIENT", no_reconnect=(n == "nr-on"))
            stub.CreatePort(api.CreatePortRequest(port=port))
        for n in socks:
            wait_status(run, n, lambda s: s.user.frontend_connections == 1, 20, "connected")
        for q in qemus.values():
            q.kill()
        t_kill = time.monotonic()
        for n in socks:
            wait_status(run, n, lambda s: s.user.frontend_connections == 0, 20, "disconnected")
        st = wait_status(run, "nr-on", lambda s: "no_reconnect" in s.message, 10, "a no_reconnect message")
        for n, s in socks.items():
            qemus[n] = ListeningQemu(s, os.path.join(log_dir, "qemu-%s.log" % n)).start()
        wait_status(run, "nr-off", lambda s: s.user.frontend_connections == 1, 20, "reconnected")
        reconnect_s = time.monotonic() - t_kill
        # The no_reconnect port: not connected, for 5 s more.
        until = time.monotonic() + 5
        while time.monotonic() < until:
            st = port_status(run, "nr-on")
            if st.user.frontend_connections != 0 or st.state != api.PortStatus.WAITING_FOR_PEER:
                raise AssertionError("no_reconnect port reconnected: state %s, connections %d" % (
                    state_name(run, st), st.user.frontend_connections))
            time.sleep(0.25)
        return ("normal client port reconnected %.1f s after its QEMU was SIGKILLed; the no_reconnect port "
                "stayed %s for %.1f s: '%s'" % (reconnect_s, state_name(run, st), time.monotonic() - t_kill,
                                               st.message))
    finally:
        for q in qemus.values():
            q.kill()
        for n in socks:
            try:
                stub.DeletePort(api.DeletePortRequest(name=n, allow_missing=True))
            except Exception:
                pass


# --- the two runs -------------------------------------------------------------------------

def run_server(args, work, log_dir):
    hooks = ServerHooks()
    run = PairRun(VhostdBackend(binary=args.vhostd), scenario=combined_scenario("guest_restart.sh", work),
                  env={"VM_OUTAGE_MAX_MS": OUTAGE_MAX_MS},
                  hooks={"restart": hooks.restart, "before-reboot": hooks.before_reboot,
                         "after-reboot": hooks.after_reboot},
                  # b reboots: QEMU resets it instead of exiting (run-guest.sh has -no-reboot).
                  qemu_args={"b": ["-action", "reboot=reset"]},
                  log_dir=log_dir, name_prefix="restart")
    return run, run.run()


def run_client(args, work, log_dir):
    run = PairRun(VhostdBackend(qemu_server=True, binary=args.vhostd),
                  scenario=combined_scenario("guest_restart.sh", work),
                  hooks={"no-reconnect": no_reconnect_check}, log_dir=log_dir, name_prefix="client")
    return run, run.run()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vhostd", help="vhostd binary (default: bazel-bin/server/vhostd)")
    p.add_argument("--only", choices=("server", "client"))
    p.add_argument("--log-dir")
    a = p.parse_args(argv)
    vmlib.lab_setup()
    log_root = a.log_dir or os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or tempfile.mkdtemp(prefix="vm-restart.")
    ok = True
    with tempfile.TemporaryDirectory(prefix="vmr.", dir="/tmp") as work:
        for name, fn in (("server", run_server), ("client", run_client)):
            if a.only and a.only != name:
                continue
            log_dir = os.path.join(log_root, name)
            os.makedirs(log_dir, exist_ok=True)
            run, result = fn(a, work, log_dir)
            print("=== %s run" % name)
            print(result.report())
            notes = [x for g in result.guests.values() for x in g["info"] if x.startswith("restart:")]
            for n in notes:
                print("  " + n)
            if not result.ok:
                ok = False
                print("backend stats:\n" + result.backend_stats)
                for g in run.guests.values():
                    print("--- last console lines of %s (%s)" % (g.name, g.console_log))
                    print(g.tail(30))
    print("restart_test: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
