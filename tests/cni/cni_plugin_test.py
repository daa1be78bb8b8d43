"""vhostd-cni driven exactly as a container runtime drives it: CNI_* variables, the
network config on stdin, the result or error object on stdout, real network namespaces
(ip netns), Debian's host-local IPAM from CNI_PATH, against a real vhostd.

vhost-user ports natively; vhost-kernel with the plain-tap fallback where the host has
no /dev/vhost-net (the same calls get /dev/vhost-net where it exists); vDPA where the
kernel has vdpa_sim_net. The kernel lab (tests/lab) runs this file in a QEMU guest with
VHOSTD_REQUIRE_KERNEL=1: there vhost-kernel ports must use vhost-net (no fallback) and
the vDPA tests must run.
"""

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, _repo_file, import_api, spec_of, type_status_of  # noqa: E402

api = import_api()
CNI_BIN = _repo_file("client/vhostd-cni")
CNI_PATH = "/usr/lib/cni"
SUBNET = "10.%d.%d" % (90 + os.getpid() % 10, os.getpid() % 200 + 10)
# Set by the kernel lab: a missing kernel feature is a failure, not a fallback or skip.
REQUIRE_KERNEL = os.environ.get("VHOSTD_REQUIRE_KERNEL") == "1"
POOL_EXHAUSTED = 105  # vhostd-cni's code for a used-up vdpa.devices pool (cni_error.h)
EXPECTED_TAP_BACKEND = "vhost-net" if os.path.exists("/dev/vhost-net") or REQUIRE_KERNEL else "plain-tap"
# Memory for the daemon; the lab guest has little RAM.
MEM_MB = int(os.environ.get("VHOSTD_TEST_MEM_MB", "0"))


def sh(*argv, check=True, netns=None):
    if netns:
        argv = ("ip", "netns", "exec", netns) + argv
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


RECEIVER = r"""
import hashlib, socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 5002))
server.listen(1)
server.settimeout(30)
conn, _ = server.accept()
conn.settimeout(30)
digest, size = hashlib.sha256(), 0
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    digest.update(chunk)
    size += len(chunk)
print(size, digest.hexdigest())
"""

SENDER = r"""
import socket, sys, time
data = open(sys.argv[2], "rb").read()
for attempt in range(50):
    try:
        conn = socket.create_connection((sys.argv[1], 5002), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
conn.settimeout(30)
conn.sendall(data)
conn.close()
"""


def tcp_transfer(src_ns, dst_ns, address, payload_path):
    """Sends the file from src_ns to address (in dst_ns) over TCP; (size, sha256) received."""
    receiver = subprocess.Popen(["ip", "netns", "exec", dst_ns, "/usr/bin/python3", "-c", RECEIVER],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sh("/usr/bin/python3", "-c", SENDER, address, payload_path, netns=src_ns, check=False)
    out, err = receiver.communicate(timeout=60)
    size, digest = out.split() if out.strip() else ("0", err)
    return int(size), digest


# Raw Ethernet frames on eth1 (ethertype 0x88b5, IEEE's local experimental one).
# "send VLAN": a broadcast frame, tagged with VLAN unless 0. "receive": prints the first
# such frame's VLAN (the kernel hands the tag over as PACKET_AUXDATA) and payload, or
# "nothing" within 2 s.
RAW_FRAMES = r"""
import socket, struct, sys, time
ETHERTYPE, ETH_P_ALL, SOL_PACKET, PACKET_AUXDATA = 0x88b5, 3, 263, 8
# Receiving on ETH_P_ALL: a socket of one ethertype sees a frame only after the kernel
# dropped its VLAN tag (no VLAN device takes it).
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL if sys.argv[1] == "receive" else 0))
s.bind(("eth1", 0))
if sys.argv[1] == "send":
    vlan = int(sys.argv[2])
    tag = struct.pack("!HH", 0x8100, vlan) if vlan else b""
    payload = ("hello from vlan %d" % vlan).encode()
    s.send(b"\xff" * 6 + s.getsockname()[4] + tag + struct.pack("!H", ETHERTYPE) + payload.ljust(46, b"\0"))
    sys.exit(0)
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
deadline = time.time() + 2
while time.time() < deadline:
    s.settimeout(max(0.01, deadline - time.time()))
    try:
        data, ancillary, _, _ = s.recvmsg(2048, 1024)
    except socket.timeout:
        break
    if struct.unpack("!H", data[12:14])[0] != ETHERTYPE:
        continue  # (IPv6 router solicitations and the like)
    vlan = 0
    for level, kind, value in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", value[:20])
            vlan = tci & 0xfff if status & (1 << 4) else 0  # TP_STATUS_VLAN_VALID
    print("vlan=%d %s" % (vlan, data[14:].rstrip(b"\0").decode()))
    sys.exit(0)
print("nothing")
"""


def vdpa_tool_works():
    return shutil.which("vdpa") is not None and subprocess.run(["vdpa", "mgmtdev", "show"],
                                                               capture_output=True).returncode == 0


def port_name(container_id, ifname):
    return "cni-" + hashlib.sha256(("%s/%s" % (container_id, ifname)).encode()).hexdigest()[:16]


class Cni:
    """Runs the plugin binary with a network config, as a runtime would."""

    def __init__(self, conf):
        self.conf = conf

    def run(self, command, container_id="", ifname="", netns="", conf=None, stdin=None, env=None, timeout=60):
        environment = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command}
        for key, value in (("CNI_CONTAINERID", container_id), ("CNI_IFNAME", ifname), ("CNI_NETNS", netns),
                           ("CNI_PATH", CNI_PATH)):
            if value:
                environment[key] = value
        environment.update(env or {})
        text = stdin if stdin is not None else json.dumps(conf if conf is not None else self.conf)
        started = time.time()
        proc = subprocess.run([CNI_BIN], input=text, env=environment, capture_output=True, text=True,
                              timeout=timeout)
        proc.elapsed = time.time() - started
        proc.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc


class CniTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="cni", dir="/tmp")
        flags = ["--metrics-address="] + (["--memory-mb=%d" % MEM_MB, "--mbufs=8192"] if MEM_MB else [])
        cls.daemon = Vhostd(cls.workdir, cores="1", extra_flags=flags)
        cls.daemon.start()
        cls.namespaces = []

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        for ns in cls.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        self.state_dir = tempfile.mkdtemp(prefix="state", dir=self.workdir)
        self.ipam_dir = tempfile.mkdtemp(prefix="ipam", dir=self.workdir)

    def netns(self, name):
        name = "%s%d" % (name, os.getpid())
        sh("ip", "netns", "add", name)
        sh("ip", "link", "set", "lo", "up", netns=name)
        self.namespaces.append(name)
        self.addCleanup(sh, "ip", "netns", "del", name, check=False)
        return name, "/var/run/netns/" + name

    def conf(self, port_type, version="1.1.0", **extra):
        conf = {"cniVersion": version, "name": "vnet", "type": "vhostd-cni",
                "server": "unix:" + self.daemon.grpc_socket, "timeoutSeconds": 5, "stateDir": self.state_dir,
                "portType": port_type,
                "ipam": {"type": "host-local", "subnet": SUBNET + ".0/24", "dataDir": self.ipam_dir}}
        if port_type == "vhost-user":
            conf["vhostUser"] = {"socketDir": self.daemon.socket_dir, "group": 0, "permissions": "0660"}
        if port_type == "vhost-kernel" and not REQUIRE_KERNEL:
            conf["spec"] = {"allowPlainTap": True}
        conf.update(extra)
        return conf

    def leases(self):
        """host-local's reservations: one file per address."""
        leases = []
        for root, _, files in os.walk(self.ipam_dir):
            leases += [f for f in files if f[0].isdigit()]
        return leases

    def ports(self):
        return {p.name: p for p in self.daemon.stub().ListPorts(api.ListPortsRequest()).ports}

    def assertCniError(self, proc, code, text=None):
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIsNotNone(proc.json, proc.stderr)
        self.assertEqual(proc.json["code"], code, proc.stdout)
        self.assertIn("msg", proc.json)
        if text:
            self.assertIn(text, proc.json["msg"] + proc.json.get("details", ""))

    def assertOk(self, proc):
        self.assertEqual(proc.returncode, 0, "stdout: %s\nstderr: %s" % (proc.stdout, proc.stderr))

    # --- VERSION and malformed input -------------------------------------------------

    def test_version(self):
        proc = Cni({}).run("VERSION", stdin='{"cniVersion":"1.0.0"}')
        self.assertOk(proc)
        self.assertEqual(proc.json, {"cniVersion": "1.0.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]})

    def test_malformed_configs_get_the_specs_codes(self):
        _, path = self.netns("bad")
        cni = Cni(self.conf("vhost-user"))
        args = dict(container_id="bad1", ifname="net1", netns=path)
        self.assertCniError(cni.run("ADD", stdin='{"cniVersion": "1.1.0", "name": ', **args), 6)
        self.assertCniError(cni.run("ADD", conf=self.conf("vhost-user", version="0.2.0"), **args), 1, "0.2.0")
        self.assertCniError(cni.run("ADD", conf=self.conf("frobnicator"), **args), 7, "portType")
        missing = self.conf("vhost-user")
        del missing["vhostUser"]
        self.assertCniError(cni.run("ADD", conf=missing, **args), 7, "vhostUser.socketDir")
        nameless = self.conf("vhost-user")
        del nameless["name"]
        self.assertCniError(cni.run("ADD", conf=nameless, **args), 7, "name")
        typo = self.conf("vhost-user")
        typo["vhostUser"]["sokcetDir"] = "/x"
        self.assertCniError(cni.run("ADD", conf=typo, **args), 2, "vhostUser.sokcetDir")
        self.assertCniError(cni.run("ADD", conf=self.conf("vhost-user", spec={"queus": 2}), **args), 7, "spec")
        self.assertCniError(cni.run("ADD", container_id="bad1", ifname="net1"), 4, "CNI_NETNS")
        self.assertCniError(cni.run("CHECK", conf=self.conf("vhost-user", version="0.3.1"), **args), 1, "CHECK")
        self.assertCniError(cni.run("STATUS", conf=self.conf("vhost-user", version="1.0.0")), 1, "STATUS")
        # Nothing was made by any of them.
        self.assertEqual([n for n in self.ports() if n.startswith("cni-")], [])
        self.assertEqual(self.leases(), [])

    # --- vhost-user --------------------------------------------------------------------

    def test_vhost_user_lifecycle(self):
        _, path = self.netns("vu")
        devinfo = os.path.join(self.workdir, "devinfo-vu.json")
        conf = self.conf("vhost-user", runtimeConfig={"CNIDeviceInfoFile": devinfo}, spec={"queues": 2})
        cni = Cni(conf)
        args = dict(container_id="vu1", ifname="net1", netns=path,
                    env={"CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=dpdk-0"})
        add = cni.run("ADD", **args)
        self.assertOk(add)
        result = add.json
        name = port_name("vu1", "net1")
        socket_path = os.path.join(self.daemon.socket_dir, name, "net1.sock")
        self.assertEqual(result["cniVersion"], "1.1.0")
        self.assertEqual(result["interfaces"], [{"name": "net1", "sandbox": path, "socketPath": socket_path}])
        self.assertEqual(result["ips"][0]["interface"], 0)
        self.assertTrue(result["ips"][0]["address"].startswith(SUBNET + "."))
        self.assertLess(len(socket_path), 108)
        st = os.stat(socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o660)
        self.assertEqual(os.stat(os.path.dirname(socket_path)).st_mode & 0o777, 0o770)
        with open(devinfo) as f:
            self.assertEqual(json.load(f), {"type": "vhost-user", "version": "1.1.0",
                                            "vhost-user": {"mode": "client", "path": socket_path}})
        port = self.ports()[name]
        self.assertEqual(port.type, "vhost-user")
        self.assertEqual(spec_of(port).queues, 2)
        self.assertEqual(dict(port.labels), {"cni.network": "vnet", "cni.container_id": "vu1", "cni.ifname": "net1",
                                             "k8s.pod.name": "dpdk-0", "k8s.pod.namespace": "prod"})
        self.assertEqual(len(self.leases()), 1)

        # ADD again: the same result, nothing new.
        again = cni.run("ADD", **args)
        self.assertOk(again)
        self.assertEqual(again.json, result)
        self.assertEqual(len(self.leases()), 1)

        # CHECK asks the daemon: no frontend yet, so the attachment is not working.
        check_conf = dict(conf, prevResult=result)
        check = cni.run("CHECK", conf=check_conf, **args)
        self.assertCniError(check, 104, "WAITING_FOR_PEER")
        # A DPDK frontend attaches to the socket: CHECK passes.
        with Testpmd([virtio_user_vdev(0, socket_path, queues=2)], mem_mb=256, rxq=2, txq=2):
            deadline = time.time() + 20
            while True:
                check = cni.run("CHECK", conf=check_conf, **args)
                if check.returncode == 0 or time.time() > deadline:
                    break
                time.sleep(0.3)
            self.assertOk(check)
        # DEL, twice; the socket directory, device-info file and lease are gone.
        del_conf = dict(conf, prevResult=result)
        self.assertOk(cni.run("DEL", conf=del_conf, **args))
        self.assertNotIn(name, self.ports())
        self.assertFalse(os.path.exists(os.path.dirname(socket_path)))
        self.assertFalse(os.path.exists(devinfo))
        self.assertEqual(self.leases(), [])
        self.assertOk(cni.run("DEL", conf=del_conf, **args))
        # CHECK after DEL fails.
        self.assertCniError(cni.run("CHECK", conf=check_conf, **args), 104)

    def test_older_versions(self):
        _, path = self.netns("old")
        for version in ("0.3.1", "0.4.0", "1.0.0"):
            cni = Cni(self.conf("vhost-user", version=version))
            add = cni.run("ADD", container_id="old" + version.replace(".", ""), ifname="net1", netns=path)
            self.assertOk(add)
            self.assertEqual(add.json["cniVersion"], version)
            self.assertNotIn("socketPath", add.json["interfaces"][0])  # 1.1.0 only
            if version == "0.3.1" or version == "0.4.0":
                self.assertEqual(add.json["ips"][0]["version"], "4")
            else:
                self.assertNotIn("version", add.json["ips"][0])
            self.assertOk(cni.run("DEL", container_id="old" + version.replace(".", ""), ifname="net1", netns=path))
        self.assertEqual(self.leases(), [])

    def test_failed_add_leaves_nothing(self):
        _, path = self.netns("fail")
        # The daemon refuses the spec (queues 1..16) after IPAM allocated an address.
        cni = Cni(self.conf("vhost-user", spec={"queues": 99}))
        add = cni.run("ADD", container_id="fail1", ifname="net1", netns=path)
        self.assertCniError(add, 7, "queues")
        self.assertNotIn(port_name("fail1", "net1"), self.ports())
        self.assertFalse(os.path.exists(os.path.join(self.daemon.socket_dir, port_name("fail1", "net1"))))
        self.assertEqual(self.leases(), [])
        # A cross-connect to a peer that does not exist: the port is taken back too.
        cni = Cni(self.conf("vhost-user", xconnect={"name": "x-missing", "peer": "no-such-port"}))
        self.assertCniError(cni.run("ADD", container_id="fail2", ifname="net1", netns=path), 101, "xconnect")
        self.assertNotIn(port_name("fail2", "net1"), self.ports())
        self.assertEqual(self.leases(), [])

    # --- vhost-kernel: a tap in the pod's netns, two pods cross-connected ----------------

    def test_vhost_kernel_pair_pings_and_checks(self):
        ns_a, path_a = self.netns("ka")
        ns_b, path_b = self.netns("kb")
        conf = self.conf("vhost-kernel", xconnect={"name": "pair-kernel"})
        cni = Cni(conf)
        add_a = cni.run("ADD", container_id="ka1", ifname="eth1", netns=path_a)
        self.assertOk(add_a)
        add_b = cni.run("ADD", container_id="kb1", ifname="eth1", netns=path_b)
        self.assertOk(add_b)
        for add, ns in ((add_a, ns_a), (add_b, ns_b)):
            interface = add.json["interfaces"][0]
            link = json.loads(sh("ip", "-j", "addr", "show", "dev", "eth1", netns=ns).stdout)[0]
            self.assertEqual(interface["mac"], link["address"])
            self.assertEqual(interface["sandbox"], "/var/run/netns/" + ns)
            addresses = ["%s/%d" % (a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet"]
            self.assertEqual(addresses, [add.json["ips"][0]["address"]])
        for container in ("ka1", "kb1"):
            self.assertEqual(self.ports()[port_name(container, "eth1")].status.backend, EXPECTED_TAP_BACKEND)
        print("CHECK: both taps served by %s" % EXPECTED_TAP_BACKEND, flush=True)
        xconnects = self.daemon.stub().ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
        self.assertEqual([(x.name, sorted([x.port_a, x.port_b])) for x in xconnects],
                         [("pair-kernel", sorted([port_name("ka1", "eth1"), port_name("kb1", "eth1")]))])
        address_b = add_b.json["ips"][0]["address"].split("/")[0]
        ping = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", address_b, netns=ns_a, check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        payload = os.path.join(self.workdir, "payload")
        with open(payload, "wb") as f:
            f.write(os.urandom(4 << 20))
        with open(payload, "rb") as f:
            expected = (4 << 20, hashlib.sha256(f.read()).hexdigest())
        received = tcp_transfer(ns_a, ns_b, address_b, payload)
        stats = [self.daemon.stub().GetPortStats(api.GetPortStatsRequest(name=port_name(c, "eth1")))
                 for c in ("ka1", "kb1")]
        self.assertEqual(received, expected, "TCP a -> b short or corrupted; vhostd: %s" % stats)
        # CHECK passes for both, and fails once the address is gone from the interface.
        check_a = cni.run("CHECK", container_id="ka1", ifname="eth1", netns=path_a, conf=dict(conf, prevResult=add_a.json))
        self.assertOk(check_a)
        sh("ip", "addr", "flush", "dev", "eth1", netns=ns_b)
        check_b = cni.run("CHECK", container_id="kb1", ifname="eth1", netns=path_b, conf=dict(conf, prevResult=add_b.json))
        self.assertCniError(check_b, 104, "lacks address")
        # ADD of an interface name the pod already has is refused and leaves nothing.
        sh("ip", "tuntap", "add", "dev", "eth2", "mode", "tap", netns=ns_a)  # (tun only: no veth or dummy module in the lab)
        self.assertCniError(cni.run("ADD", container_id="ka1", ifname="eth2", netns=path_a), 106, "eth2")
        self.assertNotIn(port_name("ka1", "eth2"), self.ports())
        # DEL of one side removes the cross-connect with it; the other waits alone.
        self.assertOk(cni.run("DEL", container_id="kb1", ifname="eth1", netns=path_b))
        self.assertEqual(list(self.daemon.stub().ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects), [])
        self.assertNotIn("eth1", sh("ip", "-o", "link", netns=ns_b).stdout)
        self.assertOk(cni.run("DEL", container_id="ka1", ifname="eth1", netns=path_a))
        self.assertOk(cni.run("DEL", container_id="ka1", ifname="eth1", netns=path_a))
        self.assertEqual(self.leases(), [])

    def test_vhost_kernel_bridge(self):
        pods = [self.netns("br%d" % i) for i in range(3)]
        conf = self.conf("vhost-kernel", bridge={"name": "cnibr0"})
        cni = Cni(conf)
        adds = []
        for i, (_, path) in enumerate(pods):
            add = cni.run("ADD", container_id="br%d" % i, ifname="eth1", netns=path)
            self.assertOk(add)
            adds.append(add.json)
        bridge = self.daemon.stub().GetBridge(api.GetBridgeRequest(name="cnibr0"))
        self.assertEqual(sorted(p.port for p in bridge.ports), sorted(port_name("br%d" % i, "eth1") for i in range(3)))
        addresses = [a["ips"][0]["address"].split("/")[0] for a in adds]
        for i, (ns, _) in enumerate(pods):
            for j, address in enumerate(addresses):
                if i != j:
                    ping = sh("ping", "-c", "2", "-i", "0.2", "-W", "2", address, netns=ns, check=False)
                    self.assertEqual(ping.returncode, 0, "%d -> %d: %s" % (i, j, ping.stdout + ping.stderr))
        check = cni.run("CHECK", container_id="br0", ifname="eth1", netns=pods[0][1], conf=dict(conf, prevResult=adds[0]))
        self.assertOk(check)
        # DEL takes the port out of the bridge; the bridge and the others stay.
        self.assertOk(cni.run("DEL", container_id="br2", ifname="eth1", netns=pods[2][1]))
        bridge = self.daemon.stub().GetBridge(api.GetBridgeRequest(name="cnibr0"))
        self.assertEqual(len(bridge.ports), 2)
        for i in range(2):
            self.assertOk(cni.run("DEL", container_id="br%d" % i, ifname="eth1", netns=pods[i][1]))
        self.assertEqual(len(self.daemon.stub().GetBridge(api.GetBridgeRequest(name="cnibr0")).ports), 0)
        self.assertEqual(self.leases(), [])

    def test_vhost_kernel_bridge_vlans(self):
        """Access ports of VLANs 10 and 20 and a trunk of both, each from its own network
        config. Raw frames (this kernel has no 802.1Q module for sub-interfaces): one the
        trunk pod tags with VLAN 10 reaches the VLAN 10 pod untagged and not the VLAN 20
        pod; one the VLAN 20 pod sends reaches the trunk pod tagged 20 and not the VLAN 10
        pod."""
        pods = {name: self.netns("vl" + name) for name in ("a10", "a20", "trunk")}
        bridges = {"a10": {"name": "cnivl", "accessVlan": 10}, "a20": {"name": "cnivl", "accessVlan": 20},
                   "trunk": {"name": "cnivl", "trunkVlans": [10, 20]}}
        for name, (ns, path) in pods.items():
            self.assertOk(Cni(self.conf("vhost-kernel", bridge=bridges[name])).run(
                "ADD", container_id="vl" + name, ifname="eth1", netns=path))
        members = {p.port: p for p in self.daemon.stub().GetBridge(api.GetBridgeRequest(name="cnivl")).ports}
        self.assertEqual(members[port_name("vla10", "eth1")].access_vlan, 10)
        self.assertEqual(members[port_name("vla20", "eth1")].access_vlan, 20)
        self.assertEqual(list(members[port_name("vltrunk", "eth1")].trunk.vlans), [10, 20])

        def exchange(sender, vlan, receivers):
            listening = {r: subprocess.Popen(["ip", "netns", "exec", pods[r][0], "/usr/bin/python3", "-c", RAW_FRAMES,
                                              "receive"], stdout=subprocess.PIPE, text=True) for r in receivers}
            time.sleep(0.5)  # bound and listening
            for _ in range(3):
                sh("/usr/bin/python3", "-c", RAW_FRAMES, "send", str(vlan), netns=pods[sender][0])
                time.sleep(0.1)
            return {r: p.communicate(timeout=10)[0].strip() for r, p in listening.items()}

        got = exchange("trunk", 10, ("a10", "a20"))
        self.assertEqual(got["a10"], "vlan=0 hello from vlan 10", got)  # untagged at the access port
        self.assertEqual(got["a20"], "nothing", got)
        got = exchange("a20", 0, ("trunk", "a10"))
        self.assertEqual(got["trunk"], "vlan=20 hello from vlan 0", got)  # tagged at the trunk
        self.assertEqual(got["a10"], "nothing", got)
        print("CHECK: the trunk's VLAN 10 frame reached only VLAN 10, untagged; VLAN 20's reached the trunk tagged",
              flush=True)
        for name, (ns, path) in pods.items():
            self.assertOk(Cni(self.conf("vhost-kernel", bridge=bridges[name])).run(
                "DEL", container_id="vl" + name, ifname="eth1", netns=path))
        self.assertEqual(self.leases(), [])

    # --- vDPA: a device from the network's pool ----------------------------------------

    @unittest.skipUnless(REQUIRE_KERNEL or vdpa_tool_works(),
                         "no vDPA in this kernel (vdpa mgmtdev show fails); the QEMU lab (tests/lab) runs this "
                         "test with vdpa_sim_net")
    def test_vdpa_pool_lifecycle(self):
        for i in range(2):
            sh("vdpa", "dev", "add", "name", "cnivd%d" % i, "mgmtdev", "vdpasim_net", "mac", "02:00:00:00:0e:0%d" % i)
            self.addCleanup(sh, "vdpa", "dev", "del", "cnivd%d" % i, check=False)
        devinfo = [os.path.join(self.workdir, "devinfo-vd%d.json" % i) for i in range(3)]
        confs = [self.conf("vdpa", vdpa={"devices": ["cnivd0", "cnivd1"]}, runtimeConfig={"CNIDeviceInfoFile": d})
                 for d in devinfo]
        pods = [self.netns("vd%d" % i) for i in range(3)]
        adds = []
        for i in range(2):
            add = Cni(confs[i]).run("ADD", container_id="vd%d" % i, ifname="net1", netns=pods[i][1])
            self.assertOk(add)
            adds.append(add.json)
            # ADD again: the same device, the same result.
            again = Cni(confs[i]).run("ADD", container_id="vd%d" % i, ifname="net1", netns=pods[i][1])
            self.assertOk(again)
            self.assertEqual(again.json, add.json)
        ports = [self.ports()[port_name("vd%d" % i, "net1")] for i in range(2)]
        self.assertEqual(sorted(spec_of(p).device for p in ports), ["cnivd0", "cnivd1"])
        for i, port in enumerate(ports):
            self.assertEqual(port.status.backend, "vhost-vdpa")
            with open(devinfo[i]) as f:
                info = json.load(f)
            self.assertEqual(info["type"], "vdpa")
            self.assertTrue(info["vdpa"]["path"].startswith("/dev/vhost-vdpa-"), info)
            self.assertEqual(info["vdpa"]["path"], type_status_of(port).device_path)
        # The pool is used up: a third attachment is refused and leaves nothing.
        third = Cni(confs[2]).run("ADD", container_id="vd2", ifname="net1", netns=pods[2][1])
        self.assertCniError(third, POOL_EXHAUSTED, "vdpa.devices: every device of the pool is in use")
        self.assertNotIn(port_name("vd2", "net1"), self.ports())
        self.assertFalse(os.path.exists(devinfo[2]))
        self.assertEqual(len(self.leases()), 2)
        # DEL frees a device; the third attachment gets it.
        freed = spec_of(ports[0]).device
        self.assertOk(Cni(confs[0]).run("DEL", container_id="vd0", ifname="net1", netns=pods[0][1],
                                        conf=dict(confs[0], prevResult=adds[0])))
        self.assertFalse(os.path.exists(devinfo[0]))
        third = Cni(confs[2]).run("ADD", container_id="vd2", ifname="net1", netns=pods[2][1])
        self.assertOk(third)
        self.assertEqual(spec_of(self.ports()[port_name("vd2", "net1")]).device, freed)
        print("CHECK: vDPA pool of 2: two attachments, the third refused, then given the freed %s" % freed,
              flush=True)
        for i in (1, 2):
            self.assertOk(Cni(confs[i]).run("DEL", container_id="vd%d" % i, ifname="net1", netns=pods[i][1]))
        self.assertEqual([n for n in self.ports() if n.startswith("cni-")], [])
        self.assertEqual(self.leases(), [])

    # --- daemon restarts, daemon down, GC, STATUS -----------------------------------------

    def test_del_after_daemon_restart_and_daemon_down(self):
        ns, path = self.netns("rs")
        cni = Cni(self.conf("vhost-kernel"))
        self.assertOk(cni.run("ADD", container_id="rs1", ifname="eth1", netns=path))
        self.assertOk(cni.run("STATUS"))
        self.daemon.kill(signal.SIGKILL)
        try:
            # The daemon is down: STATUS says existing attachments are degraded, ADD and
            # DEL say "try again later", quickly, and an ADD leaves no lease behind.
            status = cni.run("STATUS")
            self.assertCniError(status, 51, "not reachable")
            add = cni.run("ADD", container_id="rs2", ifname="eth1", netns=path)
            self.assertCniError(add, 11)
            self.assertLess(add.elapsed, 10)
            self.assertEqual(len(self.leases()), 1)
            self.assertCniError(cni.run("DEL", container_id="rs1", ifname="eth1", netns=path), 11)
        finally:
            self.daemon.start()
        # After the restart the port is back (restored from the daemon's state); DEL cleans up.
        self.assertIn(port_name("rs1", "eth1"), self.ports())
        self.assertOk(cni.run("DEL", container_id="rs1", ifname="eth1", netns=path))
        self.assertNotIn(port_name("rs1", "eth1"), self.ports())
        self.assertNotIn("eth1", sh("ip", "-o", "link", netns=ns).stdout)
        self.assertEqual(self.leases(), [])

    def test_gc_removes_attachments_not_listed(self):
        _, path = self.netns("gc")
        cni = Cni(self.conf("vhost-user"))
        for container in ("gc1", "gc2", "gc3"):
            self.assertOk(cni.run("ADD", container_id=container, ifname="net1", netns=path))
        other = Cni(dict(self.conf("vhost-user"), name="othernet"))
        self.assertOk(other.run("ADD", container_id="gc9", ifname="net1", netns=path))
        self.assertEqual(len(self.leases()), 4)
        gc_conf = dict(self.conf("vhost-user"), **{"cni.dev/valid-attachments": [{"containerID": "gc2", "ifname": "net1"}]})
        self.assertOk(cni.run("GC", conf=gc_conf))
        ports = self.ports()
        self.assertIn(port_name("gc2", "net1"), ports)
        self.assertIn(port_name("gc9", "net1"), ports)  # another network's: not ours to collect
        self.assertNotIn(port_name("gc1", "net1"), ports)
        self.assertNotIn(port_name("gc3", "net1"), ports)
        self.assertFalse(os.path.exists(os.path.join(self.daemon.socket_dir, port_name("gc1", "net1"))))
        self.assertEqual(len(self.leases()), 2)
        self.assertOk(cni.run("DEL", container_id="gc2", ifname="net1", netns=path))
        self.assertOk(other.run("DEL", container_id="gc9", ifname="net1", netns=path))
        self.assertEqual(self.leases(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
