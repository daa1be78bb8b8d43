"""A private Open vSwitch with DPDK (Debian's openvswitch-switch-dpdk) for benchmarks.

Runs its own ovsdb-server and ovs-vswitchd-dpdk in a scratch directory (database,
control sockets, logs and vhost-user sockets all live there), one PMD thread pinned with
pmd-cpu-mask, DPDK without hugepages. The system's OVS service, its database and its
alternatives are never touched. ovs-vswitchd runs in a private network namespace
(unshare --net) so the bridge's internal port does not appear on the host.

    with OvsDpdk(workdir, pmd_cpu=1) as ovs:
        ovs.add_bridge("br0")
        ovs.add_vhost_port("br0", "vhu0", ofport=1)   # socket: ovs.socket_path("vhu0")
        ovs.port_to_port_flows("br0", 1, 2)           # or keep the default NORMAL flow
        ovs.pmd_stats_clear(); ...; ovs.pmd_stats()   # {"packets", "busy_cycles", ...}
"""

import os
import re
import shutil
import signal
import subprocess
import time

VSWITCHD = os.environ.get("OVS_VSWITCHD", "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk")
SCHEMA = os.environ.get("OVS_SCHEMA", "/usr/share/openvswitch/vswitch.ovsschema")


class OvsError(Exception):
    pass


def available():
    """None when OVS-DPDK can run here, else the reason it cannot."""
    for path in (VSWITCHD, SCHEMA):
        if not os.path.exists(path):
            return "%s not found (apt-get install --no-install-recommends openvswitch-switch-dpdk)" % path
    for tool in ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-appctl", "ovs-ofctl", "unshare"):
        if shutil.which(tool) is None:
            return "%s not on PATH" % tool
    return None


def parse_pmd_stats(text):
    """`ovs-appctl dpif-netdev/pmd-stats-show` -> the first PMD thread's counters:
    packets (received), busy_cycles ("processing cycles"), idle_cycles."""
    section = text.split("pmd thread", 1)
    if len(section) < 2:
        raise OvsError("no pmd thread in pmd-stats-show:\n" + text)
    body = section[1].split("main thread", 1)[0]
    fields = {"packets": r"packets received:\s*(\d+)",
              "busy_cycles": r"processing cycles:\s*(\d+)",
              "idle_cycles": r"idle cycles:\s*(\d+)"}
    stats = {}
    for key, pattern in fields.items():
        m = re.search(pattern, body)
        if not m:
            raise OvsError("pmd-stats-show has no %r:\n%s" % (key, text))
        stats[key] = int(m.group(1))
    return stats


class OvsDpdk:
    def __init__(self, workdir, pmd_cpu, mem_mb=2048, file_prefix=None, rundir=None):
        """workdir: database and logs; rundir (default workdir): control and vhost-user sockets."""
        self.dir = workdir
        self.rundir = rundir or workdir
        self.pmd_cpu = pmd_cpu
        self.mem_mb = mem_mb
        self.file_prefix = file_prefix or "ovs%d" % os.getpid()
        self.db_sock = os.path.join(workdir, "db.sock")
        self.env = dict(os.environ, OVS_RUNDIR=self.rundir, OVS_DBDIR=workdir, OVS_LOGDIR=workdir,
                        OVS_SYSCONFDIR=workdir, OVS_PKGDATADIR=os.path.dirname(SCHEMA))
        self.ovsdb = None
        self.vswitchd = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=120.0):
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.rundir, exist_ok=True)
        self._run("ovsdb-tool", "create", os.path.join(self.dir, "conf.db"), SCHEMA)
        self.ovsdb = self._spawn("ovsdb.out", "ovsdb-server", os.path.join(self.dir, "conf.db"),
                                 "--remote=punix:" + self.db_sock,
                                 "--unixctl=" + os.path.join(self.dir, "ovsdb.ctl"),
                                 "--log-file=" + os.path.join(self.dir, "ovsdb.log"),
                                 "--no-chdir", "-vconsole:off")
        self._wait(lambda: os.path.exists(self.db_sock), 30, "ovsdb-server socket", self.ovsdb)
        # OVS adds --in-memory unless --legacy-mem is given; --in-memory and --no-huge
        # (which implies legacy memory) exclude each other.
        extra = "--no-huge -m %d --legacy-mem --no-shconf --no-pci --file-prefix=%s --no-telemetry" % (
            self.mem_mb, self.file_prefix)
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   "other_config:dpdk-extra=" + extra,
                   "other_config:pmd-cpu-mask=0x%x" % (1 << self.pmd_cpu))
        self.vswitchd = self._spawn("vswitchd.out", "unshare", "--net", VSWITCHD, "unix:" + self.db_sock,
                                    "--unixctl=" + self.ctl(), "--log-file=" + self.log_path(),
                                    "--no-chdir", "-vconsole:off")
        self._wait(lambda: self.vsctl("--no-wait", "get", "Open_vSwitch", ".", "dpdk_initialized",
                                      check=False).strip() == "true",
                   timeout, "DPDK initialisation in ovs-vswitchd", self.vswitchd)

    def stop(self):
        for proc, ctl in ((self.vswitchd, self.ctl()), (self.ovsdb, os.path.join(self.dir, "ovsdb.ctl"))):
            if proc is None or proc.poll() is not None:
                continue
            subprocess.run(["ovs-appctl", "-t", ctl, "--timeout=10", "exit"], env=self.env,
                           capture_output=True)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.vswitchd = self.ovsdb = None
        shutil.rmtree("/var/run/dpdk/" + self.file_prefix, ignore_errors=True)

    def pids(self):
        return [p.pid for p in (self.ovsdb, self.vswitchd) if p is not None]

    def alive(self):
        return self.vswitchd is not None and self.vswitchd.poll() is None

    # ------------------------------------------------------------------ configuration

    def ctl(self):
        return os.path.join(self.rundir, "vswitchd.ctl")

    def log_path(self):
        return os.path.join(self.dir, "vswitchd.log")

    def socket_path(self, port):
        """Where a dpdkvhostuser (server) port's socket appears: OVS_RUNDIR/<port>."""
        return os.path.join(self.rundir, port)

    def vsctl(self, *args, check=True):
        return self._run("ovs-vsctl", "--db=unix:" + self.db_sock, "--timeout=120", *args, check=check)

    def appctl(self, *args):
        return self._run("ovs-appctl", "-t", self.ctl(), "--timeout=30", *args)

    def ofctl(self, *args):
        return self._run("ovs-ofctl", *args)

    def add_bridge(self, name):
        self.vsctl("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev")

    def add_vhost_port(self, bridge, name, ofport=None):
        args = ["add-port", bridge, name, "--", "set", "Interface", name, "type=dpdkvhostuser"]
        if ofport is not None:
            args.append("ofport_request=%d" % ofport)
        self.vsctl(*args)

    def vhost_port_commands(self, bridge, names):
        """ovs-vsctl arguments that add all `names` as dpdkvhostuser ports in one transaction."""
        args = []
        for name in names:
            args += ["--", "add-port", bridge, name, "--", "set", "Interface", name, "type=dpdkvhostuser"]
        return args[1:]

    def port_to_port_flows(self, bridge, a, b):
        self.ofctl("del-flows", bridge)
        self.ofctl("add-flow", bridge, "in_port=%d,actions=output:%d" % (a, b))
        self.ofctl("add-flow", bridge, "in_port=%d,actions=output:%d" % (b, a))

    def pmd_stats_clear(self):
        self.appctl("dpif-netdev/pmd-stats-clear")

    def pmd_stats(self):
        return parse_pmd_stats(self.appctl("dpif-netdev/pmd-stats-show"))

    def pmd_perf_show(self):
        return self.appctl("dpif-netdev/pmd-perf-show")

    def rss_kib(self):
        with open("/proc/%d/status" % self.vswitchd.pid) as f:
            return int(re.search(r"VmRSS:\s*(\d+)", f.read()).group(1))

    # ------------------------------------------------------------------ helpers

    def _run(self, *argv, check=True):
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise OvsError("%s failed (%d): %s%s" % (" ".join(argv[:6]), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def _spawn(self, out_name, *argv):
        with open(os.path.join(self.dir, out_name), "ab") as out:
            return subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def _wait(self, ready, timeout, what, proc):
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise OvsError("%s: process exited (%d) before %s; log tail:\n%s"
                               % (proc.args[0], proc.returncode, what, self._log_tail()))
            if time.monotonic() > deadline:
                raise OvsError("no %s within %.0f s; log tail:\n%s" % (what, timeout, self._log_tail()))
            time.sleep(0.1)

    def _log_tail(self):
        try:
            with open(self.log_path(), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""
