"""vdpa ports on the virtio bus (spec.bus VIRTIO_VDPA) through a real vhostd, against
the kernel's vdpa_sim_net, virtio_vdpa and virtio_net: the device becomes a kernel
interface in a network namespace, with the name, MAC and MTU of the spec, frames go
through the device, and deleting the port gives the device back to vhost_vdpa, where a
vhost-vdpa port on it moves traffic again.

A daemon killed with SIGKILL leaves the device as it was (on virtio_vdpa, its interface
in the namespace): the restarted daemon adopts it from the record the plugin keeps under
/run/vhostd/vdpa, and deleting the port afterwards still restores MAC and driver, also
when the namespace vanished while the daemon was down. A vhost_vdpa port comes back
after a kill as well and moves traffic again.

Needs a kernel with vdpa_sim_net, vhost_vdpa and virtio_vdpa: the kernel lab
(virtio_vdpa_lab_test, tests/lab) runs it in a QEMU guest; elsewhere it is skipped with
the reason printed (and fails instead when VHOSTD_REQUIRE_KERNEL=1).

How the ping proves that frames cross the device: vdpa_sim_net loops every frame it is
sent back into its receive queue when the destination MAC is its own (or broadcast).
In the namespace the interface holds two addresses, A and B. Policy routing sends
locally generated traffic to A or B out of the interface (rule `iif lo` before the
local table), and permanent neighbour entries resolve both to the interface's own MAC.
A ping from A to B therefore leaves through the device, comes back, is accepted as
local (accept_local, as a NIC looped with a cable would need), and the reply takes the
same way back. Without the device looping frames there is no answer at all, and the
interface's rx and tx counters each grow by at least two frames per echo.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, spec_of, type_status_of, vdpa_port, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
REQUIRE_KERNEL = os.environ.get("VHOSTD_REQUIRE_KERNEL") == "1"
MEM_MB = int(os.environ.get("VHOSTD_TEST_MEM_MB", "256"))
SYSFS = "/sys/bus/vdpa/devices"
DEVICE_MAC = "02:00:00:00:0d:0a"   # what `vdpa dev add` gives the device
PORT_MAC = "02:00:00:00:0e:01"     # what the port sets on its interface
NETNS = "vpod%d" % (os.getpid() % 1000)
GONE_NETNS = "vgone%d" % (os.getpid() % 1000)  # deleted while the daemon is down
CLAIMS = "/run/vhostd/vdpa"                     # the plugin's records of devices it moved
A, B = "10.98.0.1", "10.98.0.2"


def sh(*argv, check=True, netns=None):
    if netns:
        argv = ("ip", "netns", "exec", netns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def virtio_vdpa_ready():
    """Why this kernel can't run the test, or None."""
    if not shutil.which("vdpa") or sh("vdpa", "mgmtdev", "show", check=False).returncode != 0:
        return "no vDPA in this kernel (vdpa mgmtdev show fails)"
    if not os.path.isdir("/sys/bus/vdpa/drivers/virtio_vdpa"):
        return "no virtio_vdpa driver (modprobe virtio_vdpa)"
    if not os.path.isdir("/sys/bus/vdpa/drivers/vhost_vdpa"):
        return "no vhost_vdpa driver (modprobe vhost_vdpa)"
    return None


def driver_of(device):
    link = os.path.join(SYSFS, device, "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def vhost_vdpa_nodes(device):
    return [os.path.basename(p) for p in glob.glob(os.path.join(SYSFS, device, "vhost-vdpa-*"))]


def link_of(ifname, netns=None):
    """(exists, "ip -o link" line) of ifname in netns."""
    result = sh("ip", "-o", "link", "show", "dev", ifname, check=False, netns=netns)
    return result.returncode == 0, result.stdout


def ifindex_of(ifname, netns=None):
    exists, line = link_of(ifname, netns)
    return int(line.split(":")[0]) if exists else None


def config_mac(device):
    """The MAC in the device's config space (what a driver bound next will see)."""
    shown = sh("vdpa", "dev", "config", "show", device).stdout
    found = re.search(r"\bmac ([0-9a-f:]{17})", shown)
    return found.group(1) if found else shown


def host_interfaces(device):
    """The device's interfaces in this (the daemon's) namespace."""
    return [os.path.basename(p) for p in glob.glob(os.path.join(SYSFS, device, "virtio*", "net", "*"))]


def counter(ifname, name, netns):
    return int(sh("cat", "/sys/class/net/%s/statistics/%s" % (ifname, name), netns=netns).stdout)


SKIP_REASON = virtio_vdpa_ready()


@unittest.skipIf(SKIP_REASON and not REQUIRE_KERNEL, "%s; the QEMU lab (virtio_vdpa_lab_test) runs this with "
                 "vdpa_sim_net" % SKIP_REASON)
class VirtioVdpaPorts(unittest.TestCase):
    def setUp(self):
        self.assertIsNone(SKIP_REASON)
        self.workdir = short_tmpdir("vvd")
        sh("vdpa", "dev", "add", "name", "vdpa0", "mgmtdev", "vdpasim_net", "mac", DEVICE_MAC)
        self.assertEqual(driver_of("vdpa0"), "vhost_vdpa")
        sh("ip", "netns", "add", NETNS)
        sh("ip", "link", "set", "lo", "up", netns=NETNS)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", netns=NETNS)
        sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", netns=NETNS)
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=["--metrics-address=", "--memory-mb=%d" % MEM_MB,
                                                                  "--mbufs=8192"])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        sh("ip", "netns", "del", NETNS, check=False)
        sh("ip", "netns", "del", GONE_NETNS, check=False)
        for record in glob.glob(os.path.join(CLAIMS, "vdpa*")):
            os.unlink(record)
        for dev in ("vdpa0", "vdpa1"):
            sh("vdpa", "dev", "del", dev, check=False)
        sh("ip", "link", "del", "eth0", check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create(self, name, **fields):
        return self.stub.CreatePort(api.CreatePortRequest(port=vdpa_port(name, **fields)))

    def refused(self, code, text, name="bad", **fields):
        with self.assertRaises(grpc.RpcError) as raised:
            self.create(name, **fields)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        self.assertIn(text, raised.exception.details())

    def assert_device_as_found(self):
        self.assertEqual(driver_of("vdpa0"), "vhost_vdpa")
        self.assertEqual(len(vhost_vdpa_nodes("vdpa0")), 1)
        with open(os.path.join(SYSFS, "vdpa0", "driver_override")) as override:
            self.assertEqual(override.read().strip(), "(null)")
        self.assertEqual(config_mac("vdpa0"), DEVICE_MAC)
        self.assertFalse(os.path.exists(os.path.join(CLAIMS, "vdpa0")), "the record outlived the move")

    def restart_after_kill(self):
        self.assertEqual(self.daemon.kill(), -9)
        self.daemon.start()
        self.stub = self.daemon.stub()

    def get(self, name):
        return self.stub.GetPort(api.GetPortRequest(name=name))

    def ping_through_the_device(self, ifname):
        """Pings B from A across the looping device (see the module's docstring)."""
        for command in (
                ["ip", "addr", "add", A + "/24", "dev", ifname],
                ["ip", "addr", "add", B + "/24", "dev", ifname],
                ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"],
                ["sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % ifname],
                ["sysctl", "-qw", "net.ipv4.conf.%s.accept_local=1" % ifname],
                ["ip", "route", "add", "10.98.0.0/24", "dev", ifname, "table", "100"],
                ["ip", "rule", "add", "pref", "100", "iif", "lo", "to", "10.98.0.0/24", "lookup", "100"],
                ["ip", "rule", "add", "pref", "1000", "lookup", "local"],
                ["ip", "rule", "del", "pref", "0"],
                ["ip", "neigh", "replace", A, "lladdr", PORT_MAC, "dev", ifname, "nud", "permanent"],
                ["ip", "neigh", "replace", B, "lladdr", PORT_MAC, "dev", ifname, "nud", "permanent"]):
            sh(*command, netns=NETNS)
        route = sh("ip", "route", "get", B, "from", A, netns=NETNS).stdout
        self.assertIn("dev " + ifname, route)  # not via lo: the echo must leave through the device
        rx, tx = counter(ifname, "rx_packets", NETNS), counter(ifname, "tx_packets", NETNS)
        pings = 10
        result = sh("ping", "-c", str(pings), "-i", "0.2", "-W", "2", "-I", A, B, check=False, netns=NETNS)
        self.assertIn("%d received" % pings, result.stdout, result.stdout + result.stderr)
        rx_delta = counter(ifname, "rx_packets", NETNS) - rx
        tx_delta = counter(ifname, "tx_packets", NETNS) - tx
        print("ping: %s; %s rx +%d tx +%d" % (result.stdout.strip().splitlines()[-1], ifname, rx_delta, tx_delta))
        self.assertGreaterEqual(rx_delta, 2 * pings)  # each request and each reply came back from the device
        self.assertGreaterEqual(tx_delta, 2 * pings)

    def vhost_vdpa_loopback_ports(self):
        """A vhost-vdpa port on vdpa0 cross-connected to a vhost-user port."""
        port = self.create("d0", device="vdpa0")
        self.assertEqual(port.status.backend, "vhost-vdpa")
        self.assertEqual(port.status.mac, DEVICE_MAC)  # the port put the device's own MAC back
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u0", socket_path="u0.sock")))
        self.daemon.vhostctl("xconnect", "create", "du", "--ports", "d0,u0")

    def vhost_vdpa_loopback(self):
        """testpmd's burst to the device's MAC through u0 and d0 comes back (as in
        tests/integration/kernel_ports_test.py)."""
        tp = Testpmd([virtio_user_vdev(0, os.path.join(self.daemon.socket_dir, "u0.sock"))], lcores="1,0",
                     main_lcore=1, forward_mode="io", mem_mb=MEM_MB, total_num_mbufs=4096,
                     extra_args=["--eth-peer=0,%s" % DEVICE_MAC])
        with tp:
            tp.start_forwarding(tx_first=1)
            time.sleep(3)
            tp.stop_forwarding()
            stats = tp.port_stats()
        self.assertGreater(stats[0]["rx_packets"], 100, stats)
        d0 = self.stub.GetPortStats(api.GetPortStatsRequest(name="d0"))
        self.assertGreater(d0.rx_packets, 100)

    def test_interface_in_netns_ping_delete_and_back_to_vhost_vdpa(self):
        # A same-named interface in the target: the kernel calls the device's interface
        # eth0 in this NIC-less guest, and the move must rename it on the way in.
        sh("ip", "tuntap", "add", "dev", "eth0", "mode", "tap")
        sh("ip", "link", "set", "eth0", "netns", NETNS)
        port = self.create("v0", device="vdpa0", bus="VIRTIO_VDPA", interface="vnet0", netns=NETNS, mac=PORT_MAC,
                           mtu=1400)
        self.assertEqual(spec_of(port).netns, "/var/run/netns/" + NETNS)
        self.assertEqual(port.status.backend, "virtio-vdpa")
        self.assertEqual(port.status.state, api.PortStatus.UP, port.status)
        self.assertEqual(port.status.mac, PORT_MAC)
        self.assertEqual(port.status.mtu, 1400)
        status = type_status_of(port)
        self.assertEqual((status.bus, status.device, status.interface, status.netns),
                         (1, "vdpa0", "vnet0", "/var/run/netns/" + NETNS))
        self.assertEqual(driver_of("vdpa0"), "virtio_vdpa")
        self.assertEqual(vhost_vdpa_nodes("vdpa0"), [])
        exists, line = link_of("vnet0", NETNS)
        self.assertTrue(exists, "vnet0 not in " + NETNS)
        self.assertIn("mtu 1400", line)
        self.assertIn("link/ether " + PORT_MAC, line)
        self.assertIn(",UP", line)
        self.assertFalse(link_of("vnet0")[0], "vnet0 also in the daemon's namespace")
        self.assertTrue(link_of("eth0", NETNS)[0], "the tap eth0 must still be there")

        self.ping_through_the_device("vnet0")

        # No data path in vhostd: a cross-connect is refused, naming the field.
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u9", socket_path="u9.sock")))
        with self.assertRaises(grpc.RpcError) as raised:
            self.daemon.stub().CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x", port_a="v0", port_b="u9")))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("cross_connect.port_a: port v0 has no data path in vhostd: port.spec.bus: VIRTIO_VDPA",
                      raised.exception.details())
        self.assertEqual(len(self.stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects), 0)
        # Nor can it join a bridge.
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0")))
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port="v0")))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("port.port: port v0 has no data path in vhostd: port.spec.bus: VIRTIO_VDPA",
                      raised.exception.details())
        self.assertEqual(len(self.stub.GetBridge(api.GetBridgeRequest(name="br0")).ports), 0)
        self.stub.DeleteBridge(api.DeleteBridgeRequest(name="br0"))
        self.stub.DeletePort(api.DeletePortRequest(name="u9"))

        # The device is in use: another port on it is refused, and nothing changes.
        self.refused(grpc.StatusCode.FAILED_PRECONDITION, "vdpa0 is already used by port v0", name="v1",
                     device="vdpa0", bus="VIRTIO_VDPA")
        self.assertEqual(driver_of("vdpa0"), "virtio_vdpa")

        self.stub.DeletePort(api.DeletePortRequest(name="v0"))
        self.assertFalse(link_of("vnet0", NETNS)[0], "vnet0 outlived its port")
        self.assert_device_as_found()
        self.vhost_vdpa_loopback_ports()
        self.vhost_vdpa_loopback()

    def test_restart_after_kill_adopts_the_interface_and_delete_restores(self):
        self.create("v0", device="vdpa0", bus="VIRTIO_VDPA", interface="vnet0", netns=NETNS, mac=PORT_MAC, mtu=1400)
        ifindex = ifindex_of("vnet0", NETNS)
        self.assertTrue(os.path.exists(os.path.join(CLAIMS, "vdpa0")))
        self.restart_after_kill()
        self.assertIn("adopting it", self.daemon.log_tail())
        port = self.get("v0")
        self.assertEqual(port.status.state, api.PortStatus.UP, port.status)
        self.assertEqual((port.status.backend, port.status.mac, port.status.mtu), ("virtio-vdpa", PORT_MAC, 1400))
        self.assertEqual(type_status_of(port).interface, "vnet0")
        self.assertEqual(driver_of("vdpa0"), "virtio_vdpa")
        self.assertEqual(ifindex_of("vnet0", NETNS), ifindex, "not the interface the first daemon set up")
        self.ping_through_the_device("vnet0")
        # Adopted means owned: the device is still this port's.
        self.refused(grpc.StatusCode.FAILED_PRECONDITION, "vdpa0 is already used by port v0", name="v1",
                     device="vdpa0", bus="VIRTIO_VDPA")

        self.stub.DeletePort(api.DeletePortRequest(name="v0"))
        self.assertFalse(link_of("vnet0", NETNS)[0], "vnet0 outlived its port")
        self.assert_device_as_found()

        # The vhost_vdpa bus: the killed daemon's device file is closed by the kernel, and
        # the restored port drives the device again.
        self.vhost_vdpa_loopback_ports()
        self.restart_after_kill()
        port = self.get("d0")
        self.assertEqual((port.status.state, port.status.backend), (api.PortStatus.UP, "vhost-vdpa"), port.status)
        self.vhost_vdpa_loopback()

    def test_restart_after_kill_with_the_netns_gone_is_an_error_and_delete_restores(self):
        sh("ip", "netns", "add", GONE_NETNS)
        self.create("v0", device="vdpa0", bus="VIRTIO_VDPA", interface="vnet1", netns=GONE_NETNS, mac=PORT_MAC)
        self.assertEqual(self.daemon.kill(), -9)
        sh("ip", "netns", "del", GONE_NETNS)
        # Destroying the namespace (asynchronously) gives the device's interface back to
        # the initial namespace.
        deadline = time.time() + 30
        while not host_interfaces("vdpa0") and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(len(host_interfaces("vdpa0")), 1, "the kernel did not give the interface back")
        self.daemon.start()
        self.stub = self.daemon.stub()
        port = self.get("v0")
        self.assertEqual(port.status.state, api.PortStatus.ERROR, port.status)
        self.assertIn("netns /var/run/netns/%s is gone; the interface is back in the daemon's namespace as %s"
                      % (GONE_NETNS, host_interfaces("vdpa0")[0]), port.status.message)
        # The daemon serves everything else.
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u1", socket_path="u1.sock")))
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 2)

        self.stub.DeletePort(api.DeletePortRequest(name="v0"))
        self.assertEqual(host_interfaces("vdpa0"), [])
        self.assert_device_as_found()  # the MAC too, set through the interface where the kernel put it

    def test_bad_specs_change_nothing(self):
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        virtio = dict(device="vdpa0", bus="VIRTIO_VDPA")
        self.refused(invalid, "port.spec.bus: 7 is not a bus", device="vdpa0", bus=7)
        self.refused(invalid, "port.spec.interface:", interface="much-too-long-name", **virtio)
        self.refused(invalid, "port.spec.interface:", interface="bad/name", **virtio)
        self.refused(invalid, "port.spec.mac:", mac="02:00:00:00:00", **virtio)
        self.refused(invalid, "port.spec.mac:", mac="ff:ff:ff:ff:ff:ff", **virtio)
        self.refused(invalid, "port.spec.mtu: 65536 is out of range", mtu=65536, **virtio)
        self.refused(invalid, "port.spec.mtu:", device="vdpa0", mtu=1400)  # VHOST_VDPA has none
        self.refused(grpc.StatusCode.NOT_FOUND, "port.spec.netns: /var/run/netns/nosuchns does not exist",
                     netns="nosuchns", **virtio)
        self.refused(grpc.StatusCode.NOT_FOUND, "port.spec.device: no vdpa device named vdpa9", device="vdpa9",
                     bus="VIRTIO_VDPA")
        # Beyond the device's limit (vdpa_sim_net offers MTU 1500): the kernel refuses it
        # after the bind, and the device goes back.
        self.refused(grpc.StatusCode.FAILED_PRECONDITION, "port.spec.mtu: 9000", mtu=9000, **virtio)
        self.assert_device_as_found()
        # An interface of that name already in the target namespace.
        sh("ip", "tuntap", "add", "dev", "taken0", "mode", "tap")
        sh("ip", "link", "set", "taken0", "netns", NETNS)
        self.refused(grpc.StatusCode.FAILED_PRECONDITION, "port.spec.interface: taken0 already exists",
                     interface="taken0", netns=NETNS, **virtio)
        # The device held open through /dev/vhost-vdpa-N by another process.
        fd = os.open("/dev/" + vhost_vdpa_nodes("vdpa0")[0], os.O_RDWR)
        holder = subprocess.Popen(["sleep", "60"], stdin=fd)
        os.close(fd)
        try:
            self.refused(grpc.StatusCode.FAILED_PRECONDITION, "port.spec.device:", **virtio)
        finally:
            holder.kill()
            holder.wait()
        # A device some other user already bound to virtio_vdpa.
        sh("vdpa", "dev", "add", "name", "vdpa1", "mgmtdev", "vdpasim_net")
        sh("sh", "-c", "echo vdpa1 > %s/vdpa1/driver/unbind && echo virtio_vdpa > %s/vdpa1/driver_override && "
                       "echo vdpa1 > /sys/bus/vdpa/drivers_probe" % (SYSFS, SYSFS))
        self.refused(grpc.StatusCode.FAILED_PRECONDITION, "port.spec.device: vdpa device vdpa1 is in use: bound to "
                     "virtio_vdpa", device="vdpa1", bus="VIRTIO_VDPA")
        self.assertEqual(driver_of("vdpa1"), "virtio_vdpa")
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 0)
        self.assert_device_as_found()


if __name__ == "__main__":
    unittest.main(verbosity=2)
