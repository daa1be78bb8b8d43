"""The uplink port type against real kernel interfaces: veth pairs, network namespaces
and VXLAN devices, with a real vhostd (or two) and a "pod" on a vhost-kernel tap.

  [ns pod] eth0 ─ vhostd vhost-kernel k0 ══cross-connect══ uplink up0 ─ veth ─ [ns far] 10.x.0.2

Both modes run the traffic tests: AF_XDP (native XDP on a veth, generic XDP on a VXLAN
device) and AF_PACKET; MODE_AUTO's choice and its fallback are checked on their own.

Multi-host: two namespaces stand in for two hosts, joined by a veth, each with a kernel
VXLAN device and its own vhostd (`ip netns exec`); an uplink on each side's VXLAN device
carries pod A's frames to pod B.
"""

import os
import shutil
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "testlib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from kernel_ports_test import counter, make_netns, sh, tcp_transfer  # noqa: E402
from testpmd import Testpmd, short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, import_api, spec_of, type_status_of, typed_port, vhost_kernel_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
HAS_VHOST_NET = os.path.exists("/dev/vhost-net")
TAG = "%d" % (os.getpid() % 10000)
NET = "10.%d.%d." % (90 + os.getpid() % 9, os.getpid() % 200 + 20)
DAEMON_FLAGS = ["--metrics-address=", "--memory-mb=512", "--mbufs=8192"]
AF_XDP, AF_PACKET, AUTO = api.UplinkSpec.MODE_AF_XDP, api.UplinkSpec.MODE_AF_PACKET, api.UplinkSpec.MODE_AUTO
MODE_NAMES = {AF_XDP: "af_xdp", AF_PACKET: "af_packet"}


def uplink(name, interface, mode=None, queues=None, promiscuous=None):
    spec = api.UplinkSpec(interface=interface)
    if mode:
        spec.mode = mode
    if queues:
        spec.queues = queues
    if promiscuous is not None:
        spec.promiscuous = promiscuous
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
    # no GSO frames bigger than one packet buffer.
    sh("ethtool", "-K", peer, "tx", "off", "tso", "off", "gso", "off", netns=peer_ns)
    sh("ethtool", "-K", host_end, "gro", "off", "tso", "off", "gso", "off")


def ping(netns, ip, count=5):
    return sh("ping", "-c", str(count), "-i", "0.2", "-W", "2", ip, netns=netns, check=False)


def link_flags(ifname, netns=None):
    return int(sh("cat", "/sys/class/net/%s/flags" % ifname, netns=netns).stdout, 16)


IFF_PROMISC = 0x100


def settled(read, timeout=10.0, interval=0.3):
    """Calls read() until two results `interval` apart are equal, and returns that one.
    Counters compared across vhostd and the kernel are read one after the other, so a
    frame still in flight (the closing FIN/ACK, a retransmission after the transfer
    ended, frames waiting in a ring the polling core has not drained yet) would be
    counted by one and not yet by the other."""
    last, deadline = read(), time.time() + timeout
    while time.time() < deadline:
        time.sleep(interval)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError("counters still moving after %.0f s: %r" % (timeout, last))


def assert_every_frame_accounted(test, rx_packets, rx_errors, kernel_rx, what):
    """Every frame the kernel interface received reached vhostd or was counted as dropped
    by its socket (rx_errors: a full AF_PACKET ring or AF_XDP fill ring, because the
    polling core fell behind)."""
    print("%s: uplink rx %d + dropped %d, interface rx %d" % (what, rx_packets, rx_errors, kernel_rx), file=sys.stderr)
    test.assertEqual(rx_packets + rx_errors, kernel_rx, what)
    test.assertLess(rx_errors, kernel_rx // 10, "%s: more than a tenth dropped" % what)


class OnVeth(unittest.TestCase):
    """A vhostd on CORES, a pod namespace, and a veth whose far end has NET.2."""
    CORES = "1"

    def setUp(self):
        self.workdir = short_tmpdir("upl")
        self.pod, self.far = "upP" + TAG, "upF" + TAG
        self.host_if, self.far_if = "upl" + TAG, "upr" + TAG
        make_netns(self.pod)
        make_netns(self.far)
        veth(self.host_if, self.far_if, self.far, NET + "2")
        self.daemon = Vhostd(self.workdir, cores=self.CORES, extra_flags=DAEMON_FLAGS)
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

    def stats(self, name):
        return self.stub.GetPortStats(api.GetPortStatsRequest(name=name))


class UplinkOnVeth(OnVeth):
    def attach_pod(self, uplink_port):
        self.create(vhost_kernel_port("k0", tap_name="eth0", netns="/var/run/netns/" + self.pod,
                                      allow_plain_tap=not HAS_VHOST_NET))
        sh("ip", "addr", "add", NET + "1/24", "dev", "eth0", netns=self.pod)
        sh("ip", "link", "set", "eth0", "up", netns=self.pod)
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x0", port_a="k0", port_b=uplink_port)))

    def refused(self, port):
        with self.assertRaises(grpc.RpcError) as refused:
            self.create(port)
        return refused.exception

    def pod_traffic(self, mode):
        """Ping and 4 MiB over TCP from the pod to the far namespace through uplink
        `mode`; vhostd's counters of the uplink must equal the far end's kernel counters."""
        port = self.create(uplink("up0", self.host_if, mode=mode))
        self.assertEqual(port.status.backend, MODE_NAMES[mode], port.status.message)
        self.assertEqual(port.status.state, api.PortStatus.UP, port.status.message)
        status = type_status_of(port)
        self.assertEqual((status.interface, status.mode), (self.host_if, MODE_NAMES[mode]))
        self.assertEqual(status.ifindex, int(sh("cat", "/sys/class/net/%s/ifindex" % self.host_if).stdout))
        self.assertTrue(status.promiscuous)
        self.attach_pod("up0")
        result = ping(self.pod, NET + "2")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("5 received", result.stdout)
        sent, received = tcp_transfer(self.pod, self.far, NET + "2", 4 << 20)
        self.assertEqual(sent, received)
        def read():
            stats = self.stats("up0")
            return (stats.rx_packets, stats.rx_errors, stats.tx_packets, stats.tx_dropped,
                    counter(self.far_if, "tx_packets", netns=self.far), counter(self.far_if, "rx_packets", netns=self.far))
        rx, rx_errors, tx, tx_dropped, far_tx, far_rx = settled(read)
        self.assertEqual(tx, far_rx)
        assert_every_frame_accounted(self, rx, rx_errors, far_tx, MODE_NAMES[mode])
        self.assertEqual(tx_dropped, 0)
        stats = self.stats("up0")
        self.assertGreater(stats.tx_packets, (4 << 20) // 1500)  # the data went through the uplink
        print("%s: %d packets out, %d in, sha256 %s" % (MODE_NAMES[mode], stats.tx_packets, stats.rx_packets,
                                                        sent[1]), file=sys.stderr)
        return type_status_of(self.stub.GetPort(api.GetPortRequest(name="up0")))

    def test_pod_reaches_the_far_namespace_through_af_packet(self):
        status = self.pod_traffic(AF_PACKET)
        self.assertEqual(status.xdp_attach_mode, "")

    def test_pod_reaches_the_far_namespace_through_af_xdp(self):
        status = self.pod_traffic(AF_XDP)
        # A veth runs XDP programs in its driver.
        self.assertEqual(status.xdp_attach_mode, "native")
        self.assertIn("prog/xdp", sh("ip", "-d", "link", "show", self.host_if).stdout)
        self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="x0"))
        self.stub.DeletePort(api.DeletePortRequest(name="up0"))
        # Given back as it was: no XDP program, not promiscuous.
        self.assertNotIn("prog/xdp", sh("ip", "-d", "link", "show", self.host_if).stdout)
        self.assertFalse(link_flags(self.host_if) & IFF_PROMISC)
        # ... and its queue is free again: a new port on it gets AF_XDP at once, not the
        # fallback (the kernel unbinds a closed socket's queue in a workqueue, later).
        port = self.create(uplink("up1", self.host_if))
        self.assertEqual(port.status.backend, "af_xdp", type_status_of(port).mode_reason)

    def test_auto_uses_af_xdp_and_falls_back_to_af_packet_saying_why(self):
        port = self.create(uplink("up0", self.host_if))
        self.assertEqual((port.status.backend, type_status_of(port).mode_reason), ("af_xdp", ""))
        self.assertEqual(spec_of(port).mode, AUTO)  # the desired state stays "auto"
        self.stub.DeletePort(api.DeletePortRequest(name="up0"))
        # Another AF_XDP user holds the interface (its XDP program is attached).
        other = Testpmd(["net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % self.host_if], lcores="0,1",
                        main_lcore=0, mem_mb=256, total_num_mbufs=4096)
        other.start()
        try:
            port = self.create(uplink("up0", self.host_if))
            self.assertEqual(port.status.backend, "af_packet")
            reason = type_status_of(port).mode_reason
            self.assertIn("AF_XDP on %s failed" % self.host_if, reason)
            self.assertIn("already runs XDP program", reason)
            # ... and that program is still there: trying AF_XDP did not detach it.
            self.assertIn("prog/xdp", sh("ip", "-d", "link", "show", self.host_if).stdout)
            self.assertIn(reason, port.status.message)
            print("auto fell back to af_packet: %s" % reason, file=sys.stderr)
            self.stub.DeletePort(api.DeletePortRequest(name="up0"))
            # Asked for explicitly, AF_XDP is refused with that reason, naming the field.
            error = self.refused(uplink("up0", self.host_if, mode=AF_XDP))
            self.assertEqual(error.code(), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertTrue(error.details().startswith("port.spec.mode: AF_XDP on %s failed" % self.host_if),
                            error.details())
        finally:
            other.close()
        # More queue pairs than AF_XDP can take here: auto spreads them over AF_PACKET.
        port = self.create(uplink("up2", self.host_if, queues=2))
        self.assertEqual(port.status.backend, "af_packet")
        self.assertIn("one queue pair", type_status_of(port).mode_reason)
        self.assertEqual(len(port.status.queues), 2)
        self.stub.DeletePort(api.DeletePortRequest(name="up2"))
        error = self.refused(uplink("up3", self.host_if, mode=AF_XDP, queues=2))
        self.assertTrue(error.details().startswith("port.spec.queues: AF_XDP ports have one queue pair"),
                        error.details())

    def test_deleted_af_xdp_ports_leave_no_descriptor_open(self):
        """DPDK 22.11's net_af_xdp leaves its UMEM socket, BPF objects and BTF open when
        its device goes; the plugin closes them. The descriptor count after each
        create and delete stays where it was after the first (which may open what
        stays for good: libxdp's own state)."""
        fds = lambda: len(os.listdir("/proc/%d/fd" % self.daemon.proc.pid))
        counts = []
        for _ in range(4):
            port = self.create(uplink("up0", self.host_if, mode=AF_XDP))
            self.assertEqual(port.status.backend, "af_xdp", port.status.message)
            self.stub.DeletePort(api.DeletePortRequest(name="up0"))
            counts.append(fds())
        print("descriptors after each AF_XDP create and delete: %s" % counts, file=sys.stderr)
        self.assertEqual(counts[1:], [counts[0]] * 3)

    def test_promiscuous_flag_is_given_back(self):
        for mode in (AF_XDP, AF_PACKET):
            with self.subTest(mode=MODE_NAMES[mode]):
                self.assertFalse(link_flags(self.host_if) & IFF_PROMISC)
                self.create(uplink("up0", self.host_if, mode=mode))
                self.assertTrue(link_flags(self.host_if) & IFF_PROMISC)
                self.stub.DeletePort(api.DeletePortRequest(name="up0"))
                self.assertFalse(link_flags(self.host_if) & IFF_PROMISC)
                port = self.create(uplink("up0", self.host_if, mode=mode, promiscuous=False))
                self.assertFalse(type_status_of(port).promiscuous)
                self.assertFalse(link_flags(self.host_if) & IFF_PROMISC)
                self.stub.DeletePort(api.DeletePortRequest(name="up0"))
        # The operator's own setting survives the port, whatever the spec says.
        sh("ip", "link", "set", self.host_if, "promisc", "on")
        self.create(uplink("up0", self.host_if, promiscuous=False))
        self.assertTrue(link_flags(self.host_if) & IFF_PROMISC)
        self.stub.DeletePort(api.DeletePortRequest(name="up0"))
        self.assertTrue(link_flags(self.host_if) & IFF_PROMISC)

    def test_link_down_and_up(self):
        self.create(uplink("up0", self.host_if))
        sh("ip", "link", "set", self.far_if, "down", netns=self.far)  # the veth loses its carrier
        status = self.stub.GetPort(api.GetPortRequest(name="up0")).status
        self.assertEqual(status.state, api.PortStatus.DOWN)
        self.assertIn("interface %s has no carrier" % self.host_if, status.message)
        sh("ip", "link", "set", self.host_if, "down")
        status = self.stub.GetPort(api.GetPortRequest(name="up0")).status
        self.assertEqual(status.state, api.PortStatus.DOWN)
        self.assertIn("interface %s is down" % self.host_if, status.message)
        sh("ip", "link", "set", self.host_if, "up")
        sh("ip", "link", "set", self.far_if, "up", netns=self.far)
        deadline = time.time() + 5
        while self.stub.GetPort(api.GetPortRequest(name="up0")).status.state != api.PortStatus.UP:
            self.assertLess(time.time(), deadline, "the uplink did not come back UP")
            time.sleep(0.1)

    def test_interface_vanishing_under_a_running_port_is_an_error_not_a_crash(self):
        for mode in (AF_XDP, AF_PACKET):
            with self.subTest(mode=MODE_NAMES[mode]):
                self.create(uplink("up0", self.host_if, mode=mode))
                self.attach_pod("up0")
                self.assertEqual(ping(self.pod, NET + "2", count=2).returncode, 0)
                sh("ip", "link", "del", self.host_if)
                port = self.stub.GetPort(api.GetPortRequest(name="up0"))
                self.assertEqual(port.status.state, api.PortStatus.ERROR)
                self.assertIn("interface %s is gone" % self.host_if, port.status.message)
                ping(self.pod, NET + "2", count=3)  # traffic into the dead port
                # The daemon keeps serving: status, new ports, deletes.
                self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 2)
                spare = "ups" + TAG
                sh("ip", "link", "add", spare, "type", "veth", "peer", "name", spare + "p")
                try:
                    self.assertEqual(self.create(uplink("spare", spare, mode=mode)).status.backend, MODE_NAMES[mode])
                    self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="x0"))
                    for name in ("up0", "spare", "k0"):
                        self.stub.DeletePort(api.DeletePortRequest(name=name))
                finally:
                    sh("ip", "link", "del", spare, check=False)
                self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 0)
                # A new interface of the same name is not the port's: ERROR "replaced".
                veth(self.host_if, self.far_if, self.far, NET + "2")
                self.create(uplink("up0", self.host_if, mode=mode))
                sh("ip", "link", "del", self.host_if)
                veth(self.host_if, self.far_if, self.far, NET + "2")
                status = self.stub.GetPort(api.GetPortRequest(name="up0")).status
                self.assertEqual(status.state, api.PortStatus.ERROR)
                self.assertIn("interface %s was replaced" % self.host_if, status.message)
                self.stub.DeletePort(api.DeletePortRequest(name="up0"))
                # ... and closing that port left the new interface alone.
                self.assertNotIn("prog/xdp", sh("ip", "-d", "link", "show", self.host_if).stdout)
        self.assertIsNone(self.daemon.proc.poll())

    def test_bad_interfaces_are_refused_naming_the_field_and_change_nothing(self):
        self.create(uplink("up0", self.host_if, mode=AF_PACKET))
        # A tap of this vhostd's own (a vhost-kernel port in the daemon's namespace).
        own_tap = "vko" + TAG
        self.create(vhost_kernel_port("k1", tap_name=own_tap, allow_plain_tap=not HAS_VHOST_NET))
        big = "upb" + TAG
        sh("ip", "link", "add", big, "mtu", "9000", "type", "veth", "peer", "name", big + "p")
        try:
            before = [(p.name, p.spec) for p in self.stub.ListPorts(api.ListPortsRequest()).ports]
            cases = [
                (uplink("u1", "nosuch" + TAG), grpc.StatusCode.NOT_FOUND,
                 "port.spec.interface: there is no interface nosuch%s in the daemon's network namespace" % TAG),
                (uplink("u2", "bad/name"), grpc.StatusCode.INVALID_ARGUMENT,
                 "port.spec.interface: \"bad/name\" is not an interface name"),
                (uplink("u3", ""), grpc.StatusCode.INVALID_ARGUMENT, "port.spec.interface: required"),
                (uplink("u4", "eth0,qpairs=8"), grpc.StatusCode.INVALID_ARGUMENT,
                 "port.spec.interface: \"eth0,qpairs=8\" contains ','"),
                (uplink("u5", self.host_if, queues=17), grpc.StatusCode.INVALID_ARGUMENT,
                 "port.spec.queues: 17 is out of range 1..16"),
                (uplink("u6", self.host_if), grpc.StatusCode.FAILED_PRECONDITION,
                 "port.spec: interface %s is already used by port up0" % self.host_if),
                (uplink("u7", own_tap), grpc.StatusCode.FAILED_PRECONDITION,
                 "port.spec.interface: %s is a tap of this vhostd" % own_tap),
                (uplink("u8", big, mode=AF_PACKET), grpc.StatusCode.FAILED_PRECONDITION,
                 "port.spec.interface: %s has MTU 9000" % big),
            ]
            for port, code, prefix in cases:
                with self.subTest(port=port.name):
                    error = self.refused(port)
                    self.assertEqual(error.code(), code, error.details())
                    self.assertTrue(error.details().startswith(prefix), error.details())
            self.assertEqual([(p.name, p.spec) for p in self.stub.ListPorts(api.ListPortsRequest()).ports], before)
            self.assertNotIn("prog/xdp", sh("ip", "-d", "link", "show", big).stdout)
        finally:
            sh("ip", "link", "del", big, check=False)


class UplinkSharedByTwoCores(OnVeth):
    """Two pods and an AF_PACKET uplink in one bridge, the pods' rx queues pinned to
    the two polling cores: both cores send to the uplink's one tx queue, which an
    ethdev must never have two cores inside at once, so they share it under its lock.
    Both pods move data to the far namespace at the same time; every byte arrives
    (sha256) and vhostd's count of the uplink's transmits equals what the far end
    received."""
    CORES = "0-1"

    def make_pod(self, name, ns, ip):
        if ns != self.pod:  # setUp made that one
            make_netns(ns)
        self.create(vhost_kernel_port(name, tap_name="eth0", netns="/var/run/netns/" + ns,
                                      allow_plain_tap=not HAS_VHOST_NET))
        sh("ip", "addr", "add", ip + "/24", "dev", "eth0", netns=ns)
        sh("ip", "link", "set", "eth0", "up", netns=ns)

    def tearDown(self):
        super().tearDown()
        sh("ip", "netns", "del", self.pod2, check=False)

    def test_two_cores_send_to_one_af_packet_tx_queue_under_its_lock(self):
        self.pod2 = "upQ" + TAG
        self.make_pod("k0", self.pod, NET + "1")
        self.make_pod("k1", self.pod2, NET + "3")
        port = self.create(uplink("up0", self.host_if, mode=AF_PACKET))
        self.assertEqual(len(port.status.queues), 1)
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0")))
        for name in ("k0", "k1", "up0"):
            self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port=name)))
        lcores = sorted(c.lcore for c in self.stub.ListCores(api.ListCoresRequest()).cores)
        self.assertEqual(len(lcores), 2)
        for name, lcore in (("k0", lcores[0]), ("k1", lcores[1])):
            self.stub.PinQueue(api.PinQueueRequest(pin=api.QueuePin(port=name, queue=0, lcore=lcore)))
        where = {q.port: c.lcore for c in self.stub.ListCores(api.ListCoresRequest()).cores for q in c.queues}
        self.assertEqual((where["k0"], where["k1"]), tuple(lcores), where)
        print("k0 on lcore %d, k1 on lcore %d, up0 on lcore %d" % (where["k0"], where["k1"], where["up0"]),
              file=sys.stderr)
        for ns in (self.pod, self.pod2):
            result = ping(ns, NET + "2")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # The far end listens on a second address too, so the two transfers overlap.
        sh("ip", "addr", "add", NET + "4/24", "dev", self.far_if, netns=self.far)
        targets = {self.pod: NET + "2", self.pod2: NET + "4"}
        results = {}
        def transfer(ns):
            results[ns] = tcp_transfer(ns, self.far, targets[ns], 4 << 20)
        threads = [threading.Thread(target=transfer, args=(ns,)) for ns in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        for ns in targets:
            self.assertIn(ns, results, "the transfer from %s did not finish" % ns)
            sent, received = results[ns]
            self.assertEqual(sent, received, ns)
        def read():
            stats = self.stats("up0")
            return stats.tx_packets, stats.tx_dropped, counter(self.far_if, "rx_packets", netns=self.far)
        tx, tx_dropped, far_rx = settled(read)
        print("up0 sent %d (dropped %d) from two cores, the far end received %d" % (tx, tx_dropped, far_rx),
              file=sys.stderr)
        self.assertEqual(tx, far_rx)
        self.assertGreater(tx, 2 * (4 << 20) // 1500)


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

    def pod_a_to_pod_b(self, mode):
        addresses = {"a": NET + "11", "b": NET + "12"}
        for side, daemon in self.daemons.items():
            stub = daemon.stub()
            port = stub.CreatePort(api.CreatePortRequest(port=uplink("vx", "vx0", mode=mode)))
            self.assertEqual(port.status.state, api.PortStatus.UP, port.status.message)
            self.assertEqual(port.status.mtu, 1450)  # VXLAN's overhead taken from the underlay's 1500
            self.assertEqual(port.status.backend, MODE_NAMES.get(mode, "af_xdp"), port.status.message)
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
        # Encapsulated on the underlay: the VXLAN devices' counters moved, and vhostd's
        # counters of each uplink equal its VXLAN device's.
        def read():
            counts = []
            for side, daemon in sorted(self.daemons.items()):
                stats = daemon.stub().GetPortStats(api.GetPortStatsRequest(name="vx"))
                counts.append((stats.rx_packets, stats.rx_errors, stats.tx_packets,
                               counter("vx0", "rx_packets", netns=self.hosts[side]),
                               counter("vx0", "tx_packets", netns=self.hosts[side])))
            return counts
        for side, (rx, rx_errors, tx, vx_rx, vx_tx) in zip(sorted(self.daemons), settled(read)):
            assert_every_frame_accounted(self, rx, rx_errors, vx_rx, side)
            self.assertEqual(tx, vx_tx, side)
        rx_b = counter("vx0", "rx_packets", netns=self.hosts["b"])
        self.assertGreater(rx_b, 1000)
        retransmitted = sh("nstat", "-az", "TcpRetransSegs", netns=self.pods["a"]).stdout.split()
        print("pod A retransmitted %s segments" % (retransmitted[-2] if len(retransmitted) >= 2 else "?"),
              file=sys.stderr)
        status = type_status_of(self.daemons["a"].stub().GetPort(api.GetPortRequest(name="vx")))
        print("vxlan over %s (xdp %r): %d bytes, sha256 %s; host B's vx0 received %d packets" % (
            status.mode, status.xdp_attach_mode, sent[0], sent[1], rx_b), file=sys.stderr)
        return status

    def test_pod_a_reaches_pod_b_over_the_kernels_vxlan_with_af_xdp(self):
        # A VXLAN device has no XDP in its driver: the kernel runs the program generically.
        self.assertEqual(self.pod_a_to_pod_b(AUTO).xdp_attach_mode, "generic")

    def test_pod_a_reaches_pod_b_over_the_kernels_vxlan_with_af_packet(self):
        self.assertEqual(self.pod_a_to_pod_b(AF_PACKET).mode, "af_packet")


if __name__ == "__main__":
    unittest.main(verbosity=2)
