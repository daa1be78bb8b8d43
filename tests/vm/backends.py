"""What connects the two guests of a pair test. Each backend gives every guest its QEMU
NIC arguments; the pair runner starts it before the guests and stops it after them.

    vhostd   the thing under test: two vhost-user ports (vhostd is the socket server,
             or the client with qemu_server) and a cross-connect
    testpmd  the known-good anchor: dpdk-testpmd with two net_vhost ports, io forwarding
    socket   no vhost at all: QEMU's own -netdev socket, guest a listens, b connects

Interface: start(workdir, log_dir); nic_args(index, mac, mem_mb) -> QEMU args;
before_guest(index) (called right before guest INDEX boots); stats() -> text for the
report; stop(). Guest RAM is a shared memfd for every backend, so they differ only in
the data path.
"""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testlib"))
from testpmd import Testpmd, vhost_vdev, wait_for_sockets  # noqa: E402
import vmlib  # noqa: E402

ROLES = ("a", "b")


class VhostdBackend:
    """vhostd with ports vm-a, vm-b (vhost-user) and cross-connect vm-ab, or with
    `bridge` the MAC-learning bridge vm-br of both (verify() then checks that it learned
    each guest's MAC on its port).

    port_options: more VhostUserSpec fields (e.g. {"tso": True, "checksum": False}), the
                  vhost-user plugin's spec (plugins/vhost_user/vhost_user.proto).
    role_options: per-port fields on top, by role: {"a": {"tso": True, "queues": 4}}
                  (queues there changes only the port; QEMU's NIC keeps `queues`).
    qemu_server: the ports are client-mode (vhostd dials QEMU's listening socket).
    binary: the daemon; default: Bazel's //server:vhostd (or $VHOSTD_BIN).
    """

    name = "vhostd"

    def __init__(self, queues=1, qemu_server=False, port_options=None, binary=None, cores="1",
                 role_options=None, bridge=False):
        self.queues = queues
        self.bridge = bridge
        if bridge:
            self.name = "vhostd-bridge"
        self.qemu_server = qemu_server
        self.port_options = dict(port_options or {})
        self.role_options = {r: dict(o) for r, o in (role_options or {}).items()}
        self.binary = binary or os.environ.get("VHOSTD_BIN")
        self.cores = cores
        self.daemon = None
        self.api = None

    def sock(self, index):
        return os.path.join(self.daemon.socket_dir, "vm-%s.sock" % ROLES[index])

    def start(self, workdir, log_dir):
        from vhostd_proc import Vhostd, import_api  # needs python3-grpcio: only here
        self.api = import_api()
        # No metrics endpoint: its fixed default port may be taken by another vhostd.
        self.daemon = Vhostd(os.path.join(workdir, "vhostd"), cores=self.cores,
                             file_prefix="vmd%d" % os.getpid(), extra_flags=["--metrics-address="])
        os.makedirs(self.daemon.workdir, exist_ok=True)
        self.daemon.log_path = os.path.join(log_dir, "vhostd.log")
        if self.binary:
            self.daemon.argv[0] = os.path.abspath(self.binary)
        self.daemon.start()
        stub = self.daemon.stub()
        mode = "MODE_CLIENT" if self.qemu_server else "MODE_SERVER"
        if not self.qemu_server:  # a client-mode port needs QEMU's socket: created in before_guest
            for i in range(2):
                self._create_port(stub, i, mode)
            self._create_xconnect(stub)

    def _create_port(self, stub, index, mode):
        from vhostd_proc import vhost_user_port
        fields = dict(queues=self.queues, **self.port_options)
        fields.update(self.role_options.get(ROLES[index], {}))
        port = vhost_user_port("vm-" + ROLES[index], socket_path=self.sock(index), mode=mode, **fields)
        stub.CreatePort(self.api.CreatePortRequest(port=port))

    def _create_xconnect(self, stub):
        if self.bridge:
            stub.CreateBridge(self.api.CreateBridgeRequest(bridge=self.api.Bridge(name="vm-br")))
            for role in ROLES:
                stub.AddBridgePort(self.api.AddBridgePortRequest(bridge="vm-br",
                                                                 port=self.api.BridgePort(port="vm-" + role)))
            return
        stub.CreateCrossConnect(self.api.CreateCrossConnectRequest(
            cross_connect=self.api.CrossConnect(name="vm-ab", port_a="vm-a", port_b="vm-b")))

    def verify(self, macs):
        """Errors found in the daemon after the guests' run: with a bridge, each guest's
        MAC (`macs`, by role index) must be in the MAC table on its own port."""
        if not self.bridge:
            return []
        bridge = self.daemon.stub().GetBridge(self.api.GetBridgeRequest(name="vm-br", mac_table=True))
        table = {(e.mac.lower(), e.port) for e in bridge.mac_addresses}
        errors = ["bridge vm-br did not learn %s on vm-%s (table: %s)" % (mac, ROLES[i], sorted(table))
                  for i, mac in enumerate(macs) if (mac.lower(), "vm-" + ROLES[i]) not in table]
        if not errors:
            print("CHECK: bridge vm-br learned %s" % ", ".join("%s on vm-%s" % (m, ROLES[i]) for i, m in enumerate(macs)),
                  flush=True)
        return errors

    def nic_args(self, index, mac, mem_mb):
        return vmlib.vhost_user_nic(self.sock(index), mac, mem_mb, self.queues, qemu_server=self.qemu_server)

    def before_guest(self, index):
        if not self.qemu_server:
            # QEMU as client: the socket must exist, or QEMU gives up at once.
            wait_for_sockets([self.sock(index)], timeout=10)

    def after_guests_started(self, guests):
        if self.qemu_server:
            wait_for_sockets([self.sock(i) for i in range(2)], timeout=30)
            stub = self.daemon.stub()
            for i in range(2):
                self._create_port(stub, i, "MODE_CLIENT")
            self._create_xconnect(stub)

    def restart(self, sig=9, down_seconds=0.0):
        """Kills the daemon with SIG and starts it again (ports come back from its state
        file); returns the seconds it was gone. For reconnect tests."""
        t0 = time.monotonic()
        self.daemon.kill(sig)
        time.sleep(down_seconds)
        self.daemon.start()
        return time.monotonic() - t0

    def stats(self):
        if self.daemon is None or self.daemon.proc is None:
            return "vhostd: not running"
        out = self.daemon.vhostctl("port", "stats", "vm-a", check=False).stdout
        out += self.daemon.vhostctl("port", "stats", "vm-b", check=False).stdout
        out += self.daemon.vhostctl("port", "list", check=False).stdout
        if self.bridge:
            out += self.daemon.vhostctl("bridge", "macs", "vm-br", check=False).stdout
        return out

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()


class TestpmdBackend:
    """dpdk-testpmd with net_vhost0/1 (vhost-user servers) forwarding io between them."""

    name = "testpmd"

    def __init__(self, queues=1, extra_vdev=None):
        self.queues = queues
        self.extra_vdev = extra_vdev  # e.g. "tso=1"
        self.tp = None
        self.dir = None

    def sock(self, index):
        return os.path.join(self.dir, "tp-%s.sock" % ROLES[index])

    def start(self, workdir, log_dir):
        self.dir = os.path.join(workdir, "testpmd")
        os.makedirs(self.dir, exist_ok=True)
        q = self.queues
        # lcore 0: main (idle at the prompt), lcore 1: the forwarding core, the same CPU
        # vhostd polls on with --cores=1.
        self.tp = Testpmd([vhost_vdev(i, self.sock(i), q, extra=self.extra_vdev) for i in range(2)],
                          file_prefix="vmtp%d" % os.getpid(), lcores="0,1", main_lcore=0, mem_mb=1024,
                          total_num_mbufs=16384, forward_mode="io", nb_cores=1, rxq=q, txq=q,
                          log_path=os.path.join(log_dir, "testpmd.log"))
        self.tp.start()
        self.tp.start_forwarding()
        wait_for_sockets([self.sock(i) for i in range(2)], timeout=10, alive=self.tp.alive)

    def nic_args(self, index, mac, mem_mb):
        return vmlib.vhost_user_nic(self.sock(index), mac, mem_mb, self.queues)

    def before_guest(self, index):
        pass

    def after_guests_started(self, guests):
        pass

    def stats(self):
        if self.tp is None or not self.tp.alive():
            return "testpmd: not running"
        return self.tp.cmd("show port stats all")

    def stop(self):
        if self.tp is not None:
            self.tp.close()


class SocketBackend:
    """QEMU's -netdev socket: guest a listens on a local TCP port, guest b connects.
    The device model in QEMU moves the packets; no polling process runs on the host."""

    name = "socket"

    def __init__(self, queues=1):
        if queues != 1:
            raise ValueError("-netdev socket has one queue")
        self.port = None

    def start(self, workdir, log_dir):
        with socket.socket() as s:  # a free port; QEMU binds it right after
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def nic_args(self, index, mac, mem_mb):
        how = "listen" if index == 0 else "connect"
        return (vmlib.shared_memory(mem_mb)
                + ["-netdev", "socket,id=n0,%s=127.0.0.1:%d" % (how, self.port)]
                + vmlib.nic_device("n0", mac))

    def before_guest(self, index):
        if index == 1:
            # b's QEMU exits if nobody listens yet. Look for a's socket in /proc/net/tcp
            # rather than connecting: a's QEMU takes the first connection as its peer.
            want = ":%04X" % self.port
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with open("/proc/net/tcp") as f:
                    if any(l.split()[1].endswith(want) and l.split()[3] == "0A" for l in f.readlines()[1:]):
                        return
                time.sleep(0.1)
            raise RuntimeError("guest a's QEMU never listened on port %d" % self.port)

    def after_guests_started(self, guests):
        pass

    def stats(self):
        return ""

    def stop(self):
        pass


BACKENDS = {"vhostd": VhostdBackend, "vhostd-bridge": lambda **kw: VhostdBackend(bridge=True, **kw),
            "testpmd": TestpmdBackend, "socket": SocketBackend}
