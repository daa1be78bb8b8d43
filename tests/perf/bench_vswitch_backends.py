"""The configurations bench_vswitch.py compares: what runs on the backend CPU.

Each backend starts from nothing in a scratch directory and returns the two vhost-user
socket paths the traffic side connects to (every backend is the vhost-user server, so
the traffic side is the same for all). Around the measurement window it reads its own
counters of the polling core: busy cycles (polls that moved packets, in TSC cycles) and
packets received, so that busy cycles per forwarded packet come from the backend itself.

    backend = BACKENDS["xconnect"](args)
    socks = backend.start(workdir)
    backend.window_begin(); ...; backend.window_end(seconds) -> {"backend_cycles_per_packet": ..}
    backend.stop()
"""

import os
import re
import subprocess

from bench_vswitch_ovs import OvsDpdk
from testpmd import Testpmd, vhost_vdev, wait_for_sockets
from vhostd_proc import Vhostd, import_api, vhost_user_port


def wrapper(a):
    """A command the testpmd and vhostd backends run under (e.g. valgrind), or nothing."""
    return list(getattr(a, "backend_wrapper", []))


def start_timeout(a):
    return 600.0 if wrapper(a) else 60.0


def window_counters(busy_cycles, packets, busy_pct):
    return {"backend_busy_cycles": busy_cycles, "backend_packets": packets,
            "backend_cycles_per_packet": busy_cycles / packets if packets else None,
            "backend_busy_pct": busy_pct}


def testpmd_cycles(tp):
    """(busy cycles, packets received, TSC MHz) of a testpmd's forwarding since its
    "start" (--record-core-cycles). testpmd 22.11 calls them "total cycles" but its
    forwarding engines return before counting when a poll received nothing."""
    m = re.search(r"total cycles=(\d+) / total \S+ packets=(\d+)\) at (\d+) MHz", tp.cmd("show fwd stats all"))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, None)


class TestpmdBackend:
    """dpdk-testpmd io forward between two net_vhost ports: the raw DPDK vhost library."""

    def __init__(self, a):
        self.a = a
        self.tp = None

    def start(self, workdir):
        socks = [os.path.join(workdir, "vhost%d.sock" % i) for i in (0, 1)]
        self.tp = Testpmd([vhost_vdev(i, socks[i]) for i in (0, 1)],
                          lcores="%d,%d" % (self.a.traffic_cpu, self.a.backend_cpu),
                          main_lcore=self.a.traffic_cpu, forward_mode="io", nb_cores=1, mem_mb=1024,
                          total_num_mbufs=16384, file_prefix="bvp%d" % os.getpid(),
                          extra_args=["--record-core-cycles"])
        self.tp.argv = wrapper(self.a) + self.tp.argv
        self.tp.start(timeout=start_timeout(self.a))
        self.tp.start_forwarding()
        wait_for_sockets(socks, alive=self.tp.alive)
        return socks

    def window_begin(self):
        self.begin = testpmd_cycles(self.tp)

    def window_end(self, seconds):
        end = testpmd_cycles(self.tp)
        busy, packets = end[0] - self.begin[0], end[1] - self.begin[1]
        mhz = end[2] or self.begin[2]
        return window_counters(busy, packets, 100.0 * busy / (mhz * 1e6 * seconds) if mhz else None)

    def pids(self):
        return [self.tp.pid]

    def alive(self):
        return self.tp.alive()

    def stop(self):
        if self.tp is not None:
            self.tp.close()
            self.tp = None


class VhostdBackend:
    """vhostd on one polling core, two vhost-user ports in a cross-connect or a bridge."""

    def __init__(self, a, bridge=False, sleep_max_us=0, port_fields=None):
        self.a = a
        self.bridge = bridge
        self.sleep_max_us = sleep_max_us
        self.port_fields = port_fields or {}
        self.daemon = None

    def start(self, workdir):
        flags = ["--metrics-address="] + (["--pmd-sleep-max-us=%d" % self.sleep_max_us] if self.sleep_max_us else [])
        self.daemon = Vhostd(os.path.join(workdir, "vhostd"), cores=str(self.a.backend_cpu),
                             extra_flags=flags, file_prefix="bvd%d" % os.getpid())
        self.daemon.argv[0] = self.a.vhostd
        self.daemon.set_plugin_dir(self.a.plugin_dir)
        self.daemon.argv = wrapper(self.a) + self.daemon.argv
        self.daemon.start(timeout=start_timeout(self.a))
        api = import_api()
        stub = self.daemon.stub()
        socks = [os.path.join(self.daemon.socket_dir, "p%d.sock" % i) for i in (0, 1)]
        for i in (0, 1):
            stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("p%d" % i, socket_path=socks[i],
                                                                         **self.port_fields)))
        if self.bridge:
            self.vhostctl("bridge", "create", "b0")
            for i in (0, 1):
                self.vhostctl("bridge", "add-port", "b0", "p%d" % i)
        else:
            stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x", port_a="p0", port_b="p1")))
        wait_for_sockets(socks, alive=lambda: self.daemon.proc.poll() is None)
        return socks

    def vhostctl(self, *args):
        argv = [self.a.vhostctl, "--server", "unix:" + self.daemon.grpc_socket] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("vhostctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def _core(self):
        api = import_api()
        for core in self.daemon.stub().ListCores(api.ListCoresRequest()).cores:
            if core.cpu == self.a.backend_cpu:
                return core.busy_cycles, core.idle_cycles, core.packets
        raise RuntimeError("ListCores: no core on CPU %d" % self.a.backend_cpu)

    def window_begin(self):
        self.begin = self._core()

    def window_end(self, seconds):
        busy, idle, packets = (e - b for e, b in zip(self._core(), self.begin))
        return window_counters(busy, packets, 100.0 * busy / (busy + idle) if busy + idle else None)

    def pids(self):
        return [self.daemon.proc.pid]

    def alive(self):
        return self.daemon.proc.poll() is None

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None


class OvsBackend:
    """OVS-DPDK 3.1, one PMD, two dpdkvhostuser ports: in_port flows or NORMAL."""

    def __init__(self, a, flows):
        self.a = a
        self.flows = flows
        self.ovs = None

    def start(self, workdir):
        self.ovs = OvsDpdk(os.path.join(workdir, "ovs"), pmd_cpu=self.a.backend_cpu,
                           file_prefix="bvo%d" % os.getpid())
        self.ovs.start()
        self.ovs.add_bridge("br0")
        for i in (0, 1):
            self.ovs.add_vhost_port("br0", "vhu%d" % i, ofport=i + 1)
        if self.flows == "p2p":
            self.ovs.port_to_port_flows("br0", 1, 2)
        socks = [self.ovs.socket_path("vhu%d" % i) for i in (0, 1)]
        wait_for_sockets(socks, alive=self.ovs.alive)
        return socks

    def window_begin(self):
        self.ovs.pmd_stats_clear()

    def window_end(self, seconds):
        st = self.ovs.pmd_stats()
        total = st["busy_cycles"] + st["idle_cycles"]
        return window_counters(st["busy_cycles"], st["packets"],
                               100.0 * st["busy_cycles"] / total if total else None)

    def pids(self):
        return self.ovs.pids()

    def alive(self):
        return self.ovs.alive()

    def stop(self):
        if self.ovs is not None:
            self.ovs.stop()
            self.ovs = None


BACKENDS = {
    "testpmd": TestpmdBackend,
    "xconnect": lambda a: VhostdBackend(a, bridge=False),
    "bridge": lambda a: VhostdBackend(a, bridge=True),
    # The cross-connect with idle sleeping on (--pmd-sleep-max-us), to show what it costs
    # a saturated core (bench_idle_sleep.py measures the idle and low-rate side).
    "xconnect-sleep": lambda a: VhostdBackend(a, bridge=False, sleep_max_us=a.sleep_max_us),
    # The cross-connect with ports that offer no checksum offload (VhostUserSpec.checksum
    # false): what the offloads vhostd offers by default cost the traffic side.
    "xconnect-nocsum": lambda a: VhostdBackend(a, bridge=False, port_fields={"checksum": False}),
    "ovs-p2p": lambda a: OvsBackend(a, "p2p"),
    "ovs-normal": lambda a: OvsBackend(a, "normal"),
}


def bridge_unavailable_reason(a):
    """None when this vhostd has bridges (vhostctl bridge), else why it is left out."""
    try:
        r = subprocess.run([a.vhostctl, "--help"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return "cannot run %s: %s" % (a.vhostctl, e)
    if not re.search(r"^\s+bridge create", r.stdout + r.stderr, re.M):
        return "this vhostctl has no 'bridge' command (bridges are not built yet)"
    return None
