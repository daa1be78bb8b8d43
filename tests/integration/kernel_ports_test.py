"""vhost-kernel and vDPA ports through a real vhostd, with kernel network namespaces,
tap devices and a real dpdk-testpmd.

Runs wherever the kernel has what a test needs; otherwise that test is skipped with the
reason printed. On a host without /dev/vhost-net the vhost-kernel tests run against the
explicit plain-tap fallback; tests/lab runs this same file inside a QEMU guest whose
kernel has vhost_net and vdpa_sim, where every test runs for real.

Topology of the traffic tests (addresses only inside namespaces made by the test):

  [ns A or host] tap ──vhostd vhost-kernel port k0══cross-connect══vhost-user port u0──
     ──testpmd net_virtio_user0 ⇄(io forward)⇄ testpmd net_tap1 ── tap [ns B]
"""

import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, type_status_of, vdpa_port, vhost_kernel_port, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
HAS_VHOST_NET = os.path.exists("/dev/vhost-net")
# Set by the kernel lab, whose guest has vhost_net and vdpa_sim: there, a missing
# feature is a failure, not a reason to fall back or skip.
REQUIRE_KERNEL = os.environ.get("VHOSTD_REQUIRE_KERNEL") == "1"
EXPECTED_BACKEND = "vhost-net" if HAS_VHOST_NET else "plain-tap"
# Memory for DPDK processes; the lab guest has little RAM and pays for every page.
MEM_MB = int(os.environ.get("VHOSTD_TEST_MEM_MB", "512"))
SUBNET = "10.77.%d." % (os.getpid() % 200 + 10)


def sh(*argv, check=True, netns=None, **kw):
    if netns:
        argv = ("ip", "netns", "exec", netns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


def counter(ifname, name, netns=None):
    return int(sh("cat", "/sys/class/net/%s/statistics/%s" % (ifname, name), netns=netns).stdout)


def make_netns(name):
    sh("ip", "netns", "add", name)
    sh("ip", "link", "set", "lo", "up", netns=name)
    # No IPv6 chatter (router solicitations, MLD): counters then only see our traffic.
    sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", netns=name)
    sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", netns=name)


PY_RECEIVER = r"""
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5555)); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
"""

PY_SENDER = r"""
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
c = socket.create_connection((sys.argv[1], 5555), timeout=60); c.sendall(data); c.close()
print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
"""


def tcp_transfer(src_ns, dst_ns, dst_ip, nbytes):
    """Sends nbytes of random data over TCP from src_ns to dst_ip in dst_ns; returns
    (sent, received) as (length, sha256) pairs."""
    recv = subprocess.Popen(["ip", "netns", "exec", dst_ns, "/usr/bin/python3", "-c", PY_RECEIVER, dst_ip]
                            if dst_ns else ["/usr/bin/python3", "-c", PY_RECEIVER, dst_ip],
                            stdout=subprocess.PIPE, text=True)
    assert recv.stdout.readline().strip() == "listening"
    cmd = ["/usr/bin/python3", "-c", PY_SENDER, dst_ip, str(nbytes)]
    sent = sh(*cmd, netns=src_ns, timeout=120).stdout.split()
    received = recv.communicate(timeout=120)[0].split()
    return (int(sent[0]), sent[1]), (int(received[0]), received[1])


class VhostKernelPorts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print("vhost-kernel backend under test: %s" % EXPECTED_BACKEND, file=sys.stderr)
        if REQUIRE_KERNEL and not HAS_VHOST_NET:
            raise AssertionError("VHOSTD_REQUIRE_KERNEL=1 but /dev/vhost-net is missing")

    def setUp(self):
        self.workdir = short_tmpdir("vhk")
        self.tag = "%d" % (os.getpid() % 100000)
        self.ns_a, self.ns_b = "vhdA" + self.tag, "vhdB" + self.tag
        make_netns(self.ns_a)
        make_netns(self.ns_b)
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=["--metrics-address=", "--memory-mb=%d" % MEM_MB,
                                                                  "--mbufs=8192"])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        for ns in (self.ns_a, self.ns_b):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_kernel_port(self, name, tap, netns=None, **extra):
        port = vhost_kernel_port(name, tap_name=tap, netns="/var/run/netns/" + netns if netns else "",
                                 allow_plain_tap=not HAS_VHOST_NET, **extra)
        return self.stub.CreatePort(api.CreatePortRequest(port=port))

    def peer(self, tap_b):
        """testpmd: virtio-user on vhostd's u0 socket, io-forwarding to a net_tap moved into ns B."""
        tp = Testpmd([virtio_user_vdev(0, os.path.join(self.daemon.socket_dir, "u0.sock")),
                      "net_tap1,iface=%s" % tap_b], lcores="1,0", main_lcore=1, forward_mode="io",
                     mem_mb=MEM_MB, total_num_mbufs=4096)
        tp.start()
        sh("ip", "link", "set", tap_b, "netns", self.ns_b)
        sh("ip", "addr", "add", SUBNET + "2/24", "dev", tap_b, netns=self.ns_b)
        sh("ip", "link", "set", tap_b, "up", netns=self.ns_b)
        tp.start_forwarding()
        return tp

    def run_topology(self, netns_a):
        """Builds the topology with the vhostd tap in `netns_a` (None: host namespace)."""
        tap_a = "vk" + self.tag
        port = self.create_kernel_port("k0", tap_a, netns=netns_a, mac="02:00:00:77:00:01")
        self.assertEqual(port.status.backend, EXPECTED_BACKEND)
        self.assertEqual(type_status_of(port).interface, tap_a)
        self.assertEqual(port.status.mac, "02:00:00:77:00:01")
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u0", socket_path="u0.sock")))
        self.daemon.vhostctl("xconnect", "create", "ku", "--ports", "k0,u0")
        if netns_a is None:
            # The host side of the test: an address only on the test's own tap.
            sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % tap_a, check=False)
        sh("ip", "addr", "add", SUBNET + "1/24", "dev", tap_a, netns=netns_a)
        self.assertEqual(self.stub.GetPort(api.GetPortRequest(name="k0")).status.state, api.PortStatus.UP)
        return tap_a

    def ping(self, netns, count=20):
        out = sh("ping", "-c", str(count), "-i", "0.05", "-W", "2", SUBNET + "2", netns=netns, check=False).stdout
        return out

    def assert_counters_match_kernel(self, tap, netns):
        time.sleep(0.5)
        stats = self.stub.GetPortStats(api.GetPortStatsRequest(name="k0"))
        # What the kernel transmitted on the tap is what vhostd received, and back.
        self.assertEqual(stats.rx_packets, counter(tap, "tx_packets", netns))
        self.assertEqual(stats.tx_packets, counter(tap, "rx_packets", netns))
        self.assertEqual(stats.tx_dropped, 0)
        return stats

    def test_host_namespace_ping(self):
        tap = self.run_topology(None)
        with self.peer("vkb" + self.tag):
            out = self.ping(None)
            self.assertIn("20 received", out, out)
            stats = self.assert_counters_match_kernel(tap, None)
            self.assertGreaterEqual(stats.rx_packets, 20)
        self.daemon.vhostctl("xconnect", "delete", "ku")
        self.daemon.vhostctl("port", "delete", "k0")
        self.assertNotEqual(sh("ip", "link", "show", tap, check=False).returncode, 0, "tap survived delete")

    def test_pod_namespace_ping_and_tcp(self):
        tap = self.run_topology(self.ns_a)
        self.assertNotEqual(sh("ip", "link", "show", tap, check=False).returncode, 0, "tap left in host ns")
        status = type_status_of(self.stub.GetPort(api.GetPortRequest(name="k0")))
        self.assertEqual(status.netns, "/var/run/netns/" + self.ns_a)
        with self.peer("vkb" + self.tag):
            out = self.ping(self.ns_a)
            self.assertIn("20 received", out, out)
            for src, dst, ip in ((self.ns_a, self.ns_b, SUBNET + "2"), (self.ns_b, self.ns_a, SUBNET + "1")):
                sent, received = tcp_transfer(src, dst, ip, 4 * 1024 * 1024)
                self.assertEqual(sent, received, "TCP %s -> %s corrupted or short" % (src, dst))
            self.assert_counters_match_kernel(tap, self.ns_a)
        self.daemon.vhostctl("xconnect", "delete", "ku")
        self.daemon.vhostctl("port", "delete", "k0")
        gone = sh("ip", "link", "show", tap, netns=self.ns_a, check=False)
        self.assertNotEqual(gone.returncode, 0, "tap survived delete in its netns")

    def test_bad_specs(self):
        def refused(code, field, **spec):
            with self.assertRaises(grpc.RpcError) as raised:
                self.stub.CreatePort(api.CreatePortRequest(port=vhost_kernel_port(spec.pop("name", "bad"), **spec)))
            self.assertEqual(raised.exception.code(), code, raised.exception.details())
            self.assertIn(field, raised.exception.details())

        plain = {"allow_plain_tap": not HAS_VHOST_NET}
        refused(grpc.StatusCode.NOT_FOUND, "port.spec.netns", netns="/var/run/netns/none-such", **plain)
        refused(grpc.StatusCode.INVALID_ARGUMENT, "port.spec.mac", mac="01:00:5e:00:00:01", **plain)
        refused(grpc.StatusCode.INVALID_ARGUMENT, "port.spec.mtu", mtu=20, **plain)
        refused(grpc.StatusCode.INVALID_ARGUMENT, "port.spec.tap_name", tap_name="a/b", **plain)
        refused(grpc.StatusCode.INVALID_ARGUMENT, "port.spec.tap_name", name="a-very-long-port-name", **plain)
        if not HAS_VHOST_NET:
            refused(grpc.StatusCode.FAILED_PRECONDITION, "allow_plain_tap")
        self.create_kernel_port("k0", "vkx" + self.tag)
        refused(grpc.StatusCode.FAILED_PRECONDITION, "vkx" + self.tag, name="k1", tap_name="vkx" + self.tag, **plain)
        self.assertEqual([p.name for p in self.stub.ListPorts(api.ListPortsRequest()).ports], ["k0"])


def vdpa_tool_works():
    return shutil.which("vdpa") and sh("vdpa", "mgmtdev", "show", check=False).returncode == 0


@unittest.skipUnless(REQUIRE_KERNEL or vdpa_tool_works(), "no vDPA in this kernel (vdpa mgmtdev show fails); "
                     "the QEMU lab (tests/lab) runs these tests with vdpa_sim_net")
class VdpaPorts(unittest.TestCase):
    MAC = "02:00:00:00:0d:0a"

    def setUp(self):
        self.workdir = short_tmpdir("vdp")
        sh("vdpa", "dev", "add", "name", "vdpa0", "mgmtdev", "vdpasim_net", "mac", self.MAC)
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=["--metrics-address=", "--memory-mb=%d" % MEM_MB,
                                                                  "--mbufs=8192"])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        for dev in ("vdpa0", "vdpa1"):
            sh("vdpa", "dev", "del", dev, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def test_loopback_through_vdpa_sim(self):
        port = self.stub.CreatePort(api.CreatePortRequest(port=vdpa_port("d0", device="vdpa0")))
        self.assertEqual(port.status.backend, "vhost-vdpa")
        self.assertEqual(port.status.mac, self.MAC)
        self.assertTrue(type_status_of(port).device_path.startswith("/dev/vhost-vdpa-"))
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u0", socket_path="u0.sock")))
        self.daemon.vhostctl("xconnect", "create", "du", "--ports", "d0,u0")
        # vdpa_sim_net loops back frames addressed to its own MAC: testpmd sends a burst
        # to it through vhostd (u0 -> d0), the device returns it (d0 -> u0).
        tp = Testpmd([virtio_user_vdev(0, os.path.join(self.daemon.socket_dir, "u0.sock"))], lcores="1,0",
                     main_lcore=1, forward_mode="io", mem_mb=MEM_MB, total_num_mbufs=4096,
                     extra_args=["--eth-peer=0,%s" % self.MAC])
        with tp:
            tp.start_forwarding(tx_first=1)
            time.sleep(3)
            tp.stop_forwarding()
            stats = tp.port_stats()
        self.assertGreater(stats[0]["rx_packets"], 100, stats)
        d0 = self.stub.GetPortStats(api.GetPortStatsRequest(name="d0"))
        u0 = self.stub.GetPortStats(api.GetPortStatsRequest(name="u0"))
        self.assertGreater(d0.tx_packets, 100)
        self.assertGreater(d0.rx_packets, 100)
        self.assertEqual(u0.rx_packets, stats[0]["tx_packets"])
        self.assertEqual(u0.tx_packets, d0.rx_packets - u0.tx_dropped)

    def test_bad_devices(self):
        def refused(code, text, device):
            with self.assertRaises(grpc.RpcError) as raised:
                self.stub.CreatePort(api.CreatePortRequest(port=vdpa_port("bad", device=device)))
            self.assertEqual(raised.exception.code(), code, raised.exception.details())
            self.assertIn(text, raised.exception.details())

        refused(grpc.StatusCode.NOT_FOUND, "no vdpa device named vdpa9", "vdpa9")
        refused(grpc.StatusCode.NOT_FOUND, "does not exist", "/dev/vhost-vdpa-99")
        path = glob.glob("/sys/bus/vdpa/devices/vdpa0/vhost-vdpa-*")[0].split("/")[-1]
        # Another process holding the device open: vhost-vdpa allows one opener.
        fd = os.open("/dev/" + path, os.O_RDWR)
        holder = subprocess.Popen(["sleep", "60"], stdin=fd)
        os.close(fd)
        try:
            refused(grpc.StatusCode.FAILED_PRECONDITION, "busy", "vdpa0")
        finally:
            holder.kill()
            holder.wait()
        # A device bound to virtio_vdpa (a kernel netdev) cannot be a vhostd port.
        sh("vdpa", "dev", "add", "name", "vdpa1", "mgmtdev", "vdpasim_net")
        if os.path.exists("/sys/bus/vdpa/drivers/virtio_vdpa"):
            sh("sh", "-c", "echo vdpa1 > /sys/bus/vdpa/devices/vdpa1/driver/unbind && "
                           "echo virtio_vdpa > /sys/bus/vdpa/devices/vdpa1/driver_override && "
                           "echo vdpa1 > /sys/bus/vdpa/drivers_probe")
            refused(grpc.StatusCode.FAILED_PRECONDITION, "virtio_vdpa", "vdpa1")
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
