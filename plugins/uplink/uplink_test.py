"""The uplink port type against real kernel interfaces: veth pairs, network namespaces
and VXLAN devices, with a real vhostd (or two) and a "pod" on a vhost-kernel tap.

  [ns pod] eth0 ─ vhostd vhost-kernel k0 ══cross-connect══ uplink up0 ─ veth ─ [ns far] 10.x.0.2

Multi-host: two namespaces stand in for two hosts, joined by a veth, each with a kernel
VXLAN device and its own vhostd; an uplink on each side's VXLAN device carries pod A's
frames to pod B.
"""

import os
import shutil
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "testlib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from kernel_ports_test import counter, make_netns, sh, tcp_transfer  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, import_api, spec_of, type_status_of, typed_port, vhost_kernel_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
HAS_VHOST_NET = os.path.exists("/dev/vhost-net")
TAG = "%d" % (os.getpid() % 10000)
NET = "10.%d.%d." % (90 + os.getpid() % 9, os.getpid() % 200 + 20)
DAEMON_FLAGS = ["--metrics-address=", "--memory-mb=512", "--mbufs=8192"]


def uplink(name, interface, mode=None, queues=None):
    spec = api.UplinkSpec(interface=interface)
    if mode:
        spec.mode = mode
    if queues:
        spec.queues = queues
    return typed_port(name, "uplink", spec)


def veth(host_end, peer, peer_ns, peer_ip):
    """A veth pair: `host_end` in this namespace (up, no IPv6), `peer` in `peer_ns` with `peer_ip`."""
    sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", peer)
    sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % host_end)
    sh("ip", "link", "set", peer, "netns", peer_ns)
    sh("ip", "addr", "add", peer_ip + "/24", "dev", peer, netns=peer_ns)
    sh("ip", "link", "set", peer, "up", netns=peer_ns)
    sh("ip", "link", "set", host_end, "up")
    # A veth peer's own stack leaves TCP checksums to "the device" (CHECKSUM_PARTIAL),
    # and a veth never fills them in: an AF_PACKET or AF_XDP socket would pass on frames
    # with bad checksums. Like OVS's AF_XDP guide: no checksum offload on the peer. And
    # no GSO frames bigger than the socket's 2 KiB ring slots.
    sh("ethtool", "-K", peer, "tx", "off", "tso", "off", "gso", "off", netns=peer_ns)
    sh("ethtool", "-K", host_end, "gro", "off", "tso", "off", "gso", "off")


def ping(netns, ip, count=5):
    return sh("ping", "-c", str(count), "-i", "0.2", "-W", "2", ip, netns=netns, check=False)


class UplinkOnVeth(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("upl")
        self.pod, self.far = "upP" + TAG, "upF" + TAG
        self.host_if, self.far_if = "upl" + TAG, "upr" + TAG
        make_netns(self.pod)
        make_netns(self.far)
        veth(self.host_if, self.far_if, self.far, NET + "2")
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=DAEMON_FLAGS)
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        sh("ip", "link", "del", self.host_if, check=False)
        for ns in (self.pod, self.far):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create(self, port):
        return self.stub.CreatePort(api.CreatePortRequest(port=port))

    def attach_pod(self, uplink_port):
        self.create(vhost_kernel_port("k0", tap_name="eth0", netns="/var/run/netns/" + self.pod,
                                      allow_plain_tap=not HAS_VHOST_NET))
        sh("ip", "addr", "add", NET + "1/24", "dev", "eth0", netns=self.pod)
        sh("ip", "link", "set", "eth0", "up", netns=self.pod)
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x0", port_a="k0", port_b=uplink_port)))

    def stats(self, name):
        return self.stub.GetPortStats(api.GetPortStatsRequest(name=name))

    def test_pod_reaches_the_far_namespace_through_af_packet(self):
        port = self.create(uplink("up0", self.host_if, mode=api.UplinkSpec.MODE_AF_PACKET))
        self.assertEqual(port.status.backend, "af_packet")
        self.assertEqual(port.status.state, api.PortStatus.UP, port.status.message)
        status = type_status_of(port)
        self.assertEqual((status.interface, status.mode), (self.host_if, "af_packet"))
        self.assertEqual(status.ifindex, int(sh("cat", "/sys/class/net/%s/ifindex" % self.host_if).stdout))
        self.attach_pod("up0")
        result = ping(self.pod, NET + "2")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("5 received", result.stdout)
        sent, received = tcp_transfer(self.pod, self.far, NET + "2", 4 << 20)
        self.assertEqual(sent, received)
        # vhostd's counters of the uplink agree with the far end's kernel counters.
        time.sleep(0.5)
        stats = self.stats("up0")
        self.assertEqual(stats.tx_packets, counter(self.far_if, "rx_packets", netns=self.far))
        self.assertEqual(stats.rx_packets, counter(self.far_if, "tx_packets", netns=self.far))
        self.assertEqual(stats.tx_dropped, 0)
        print("af_packet: %d packets out, %d in, sha256 %s" % (stats.tx_packets, stats.rx_packets, sent[1]),
              file=sys.stderr)

    def test_af_xdp_attaches_and_auto_says_what_it_chose(self):
        port = self.create(uplink("up0", self.host_if, mode=api.UplinkSpec.MODE_AF_XDP))
        self.assertEqual(port.status.backend, "af_xdp", port.status.message)
        self.assertEqual(port.status.state, api.PortStatus.UP, port.status.message)
        self.assertIn("xdp", sh("ip", "-d", "link", "show", self.host_if).stdout)  # the XSK program is loaded
        self.stub.DeletePort(api.DeletePortRequest(name="up0"))
        # AF_XDP binds one socket per receive queue: more queues than the interface has is refused.
        with self.assertRaises(grpc.RpcError) as refused:
            self.create(uplink("up1", "lo", mode=api.UplinkSpec.MODE_AF_XDP, queues=16))
        self.assertTrue(refused.exception.details().startswith("port.spec.mode: AF_XDP on lo failed"),
                        refused.exception.details())
        # Auto: AF_PACKET, with the reason; several queue pairs spread by flow.
        port = self.create(uplink("up2", self.host_if, queues=2))
        self.assertEqual(port.status.backend, "af_packet")
        self.assertIn("mode auto uses AF_PACKET", type_status_of(port).mode_reason)
        self.assertEqual(len(port.status.queues), 2)

    def test_interface_vanishing_under_a_running_port_is_an_error_not_a_crash(self):
        self.create(uplink("up0", self.host_if, mode=api.UplinkSpec.MODE_AF_PACKET))
        self.attach_pod("up0")
        self.assertEqual(ping(self.pod, NET + "2", count=2).returncode, 0)
        sh("ip", "link", "del", self.host_if)
        port = self.stub.GetPort(api.GetPortRequest(name="up0"))
        self.assertEqual(port.status.state, api.PortStatus.ERROR)
        self.assertIn("interface %s is gone" % self.host_if, port.status.message)
        ping(self.pod, NET + "2", count=3)  # traffic into the dead port
        # The daemon keeps serving: status, new ports, deletes.
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 2)
        self.create(uplink("lo0", "lo", mode=api.UplinkSpec.MODE_AF_PACKET))
        self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="x0"))
        self.stub.DeletePort(api.DeletePortRequest(name="up0"))

    def test_bad_interfaces_are_refused_naming_the_field_and_change_nothing(self):
        self.create(uplink("up0", self.host_if, mode=api.UplinkSpec.MODE_AF_PACKET))
        before = [(p.name, p.spec) for p in self.stub.ListPorts(api.ListPortsRequest()).ports]
        cases = [
            (uplink("u1", "nosuch" + TAG), grpc.StatusCode.NOT_FOUND, "port.spec.interface: there is no interface"),
            (uplink("u2", "bad/name"), grpc.StatusCode.INVALID_ARGUMENT, "port.spec.interface: "),
            (uplink("u3", ""), grpc.StatusCode.INVALID_ARGUMENT, "port.spec.interface: required"),
            (uplink("u4", self.host_if, queues=17), grpc.StatusCode.INVALID_ARGUMENT, "port.spec.queues: "),
            (uplink("u5", self.host_if), grpc.StatusCode.FAILED_PRECONDITION,
             "port.spec: interface %s is already used by port up0" % self.host_if),
        ]
        for port, code, prefix in cases:
            with self.assertRaises(grpc.RpcError) as refused:
                self.create(port)
            self.assertEqual(refused.exception.code(), code, refused.exception.details())
            self.assertTrue(refused.exception.details().startswith(prefix), refused.exception.details())
        self.assertEqual([(p.name, p.spec) for p in self.stub.ListPorts(api.ListPortsRequest()).ports], before)


class UplinkOverVxlanBetweenTwoHosts(unittest.TestCase):
    """Host A and host B are namespaces joined by a veth; each has a VXLAN device, its
    own vhostd, and a pod whose tap is cross-connected to an uplink on that device."""

    def setUp(self):
        self.workdir = short_tmpdir("upx")
        self.hosts = {"a": "uxA" + TAG, "b": "uxB" + TAG}
        self.pods = {"a": "uxPA" + TAG, "b": "uxPB" + TAG}
        for ns in list(self.hosts.values()) + list(self.pods.values()):
            make_netns(ns)
        underlay = {"a": "192.168.%d.1" % (os.getpid() % 200 + 10), "b": "192.168.%d.2" % (os.getpid() % 200 + 10)}
        sh("ip", "link", "add", "und" + TAG, "netns", self.hosts["a"], "type", "veth", "peer", "name", "und" + TAG,
           "netns", self.hosts["b"])
        self.daemons = {}
        for side, other in (("a", "b"), ("b", "a")):
            host = self.hosts[side]
            sh("ip", "addr", "add", underlay[side] + "/24", "dev", "und" + TAG, netns=host)
            sh("ip", "link", "set", "und" + TAG, "up", netns=host)
            sh("ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", underlay[other], "local",
               underlay[side], "dstport", "4789", "dev", "und" + TAG, netns=host)
            sh("ip", "link", "set", "vx0", "up", netns=host)
            workdir = os.path.join(self.workdir, side)
            os.makedirs(workdir)
            daemon = Vhostd(workdir, cores="1", extra_flags=DAEMON_FLAGS, file_prefix="ux%s%s" % (side, TAG))
            daemon.argv = ["ip", "netns", "exec", host] + daemon.argv
            daemon.start()
            self.daemons[side] = daemon

    def tearDown(self):
        for daemon in self.daemons.values():
            daemon.stop()
        for ns in list(self.hosts.values()) + list(self.pods.values()):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def test_pod_a_reaches_pod_b_over_the_kernels_vxlan(self):
        addresses = {"a": NET + "11", "b": NET + "12"}
        for side, daemon in self.daemons.items():
            stub = daemon.stub()
            port = stub.CreatePort(api.CreatePortRequest(port=uplink("vx", "vx0", mode=api.UplinkSpec.MODE_AF_PACKET)))
            self.assertEqual(port.status.state, api.PortStatus.UP, port.status.message)
            self.assertEqual(port.status.mtu, 1450)  # VXLAN's overhead taken from the underlay's 1500
            stub.CreatePort(api.CreatePortRequest(port=vhost_kernel_port(
                "pod", tap_name="eth0", netns="/var/run/netns/" + self.pods[side], mtu=1450,
                allow_plain_tap=not HAS_VHOST_NET)))
            stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x", port_a="pod", port_b="vx")))
            sh("ip", "addr", "add", addresses[side] + "/24", "dev", "eth0", netns=self.pods[side])
            sh("ip", "link", "set", "eth0", "up", netns=self.pods[side])
        result = ping(self.pods["a"], addresses["b"])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        sent, received = tcp_transfer(self.pods["a"], self.pods["b"], addresses["b"], 4 << 20)
        self.assertEqual(sent, received)
        # Encapsulated on the underlay: the VXLAN devices' counters moved.
        rx_b = int(sh("cat", "/sys/class/net/vx0/statistics/rx_packets", netns=self.hosts["b"]).stdout)
        self.assertGreater(rx_b, 1000)
        print("vxlan: %d bytes, sha256 %s; host B's vx0 received %d packets" % (sent[0], sent[1], rx_b),
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
