"""vhostd runs with only the capabilities the docs list (README "What the container
needs"): NET_ADMIN, NET_RAW, IPC_LOCK, SYS_NICE and SYS_ADMIN, the last only for setns().
Each daemon here is started by setpriv with its bounding, inheritable and ambient sets cut
to a given list (so root keeps nothing else), and checked with capsh's decoding of its
/proc status.

- With exactly the documented set: vhost-user ports forward testpmd traffic, and a
  vhost-kernel port (plain tap here) is created inside a pod's network namespace.
- Without SYS_ADMIN: vhost-user still works; the port in a pod's namespace is refused
  with an error naming CAP_SYS_ADMIN, the daemon keeps serving, and a tap in the
  daemon's own namespace works.
- Without NET_ADMIN too: taps are refused with an error naming CAP_NET_ADMIN;
  vhost-user still works.
"""

import os
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_kernel_port, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
DOCUMENTED = ["net_admin", "net_raw", "ipc_lock", "sys_nice", "sys_admin"]


def say(message):
    print("CHECK: " + message, flush=True)


def setpriv(caps):
    wanted = ",".join(["-all"] + ["+" + c for c in caps])
    return ["setpriv", "--bounding-set=" + wanted, "--inh-caps=" + wanted, "--ambient-caps=" + wanted, "--"]


def effective_caps(pid):
    with open("/proc/%d/status" % pid) as status:
        lines = status.readlines()
    for line in lines:
        if line.startswith("CapEff:"):
            decoded = subprocess.run(["capsh", "--decode=" + line.split()[1]], capture_output=True, text=True,
                                     check=True).stdout.strip()
            names = decoded.split("=", 1)[1]
            return sorted(n.replace("cap_", "") for n in names.split(",") if n)
    raise AssertionError("no CapEff")


class CapabilitiesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.netns = "vhcap%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", cls.netns], check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["ip", "netns", "del", cls.netns], check=False)

    def setUp(self):
        self.workdir = short_tmpdir("caps")
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self, caps):
        self.daemon = Vhostd(self.workdir, cores="1", file_prefix="caps%d" % os.getpid(),
                             extra_flags=["--metrics-address="])
        self.daemon.argv = setpriv(caps) + self.daemon.argv
        self.daemon.start()
        self.assertEqual(effective_caps(self.daemon.proc.pid), sorted(caps))
        say("vhostd runs with exactly: %s" % ", ".join(sorted(caps)))
        return self.daemon.stub()

    def vhost_user_forwards(self, stub):
        for name in ("u0", "u1"):
            stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")), timeout=5)
        stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="ux", port_a="u0", port_b="u1")), timeout=5)
        tp = Testpmd([virtio_user_vdev(i, os.path.join(self.daemon.socket_dir, n + ".sock"))
                      for i, n in enumerate(("u0", "u1"))], lcores="1,0", main_lcore=1, forward_mode="io",
                     log_path=os.path.join(self.workdir, "testpmd.log"))
        tp.start()
        try:
            stats = tp.loop_and_drain()
        finally:
            tp.close()
        self.assertGreater(stats[0]["rx_packets"], 1000, stats)
        self.assertEqual(stats[0]["tx_packets"], stats[1]["rx_packets"], stats)
        say("vhost-user u0-u1 forwarded %d packets" % stats[1]["rx_packets"])

    def tap_port(self, stub, name, netns):
        port = vhost_kernel_port(name, tap_name=name, netns="/var/run/netns/" + netns if netns else "",
                                 allow_plain_tap=True)  # no /dev/vhost-net here; the tap is what needs the caps
        return stub.CreatePort(api.CreatePortRequest(port=port), timeout=10)

    def interface_exists(self, name, netns=None):
        prefix = ["ip", "netns", "exec", netns] if netns else []
        return subprocess.run(prefix + ["ip", "link", "show", name], capture_output=True).returncode == 0

    def assert_refused(self, call, missing):
        with self.assertRaises(grpc.RpcError) as raised:
            call()
        self.assertIn("vhostd lacks " + missing, raised.exception.details())
        say("refused (%s): %s" % (raised.exception.code().name, raised.exception.details()))
        return raised.exception

    def test_documented_capabilities_suffice(self):
        stub = self.start(DOCUMENTED)
        self.vhost_user_forwards(stub)
        self.tap_port(stub, "vkpod", self.netns)
        self.assertTrue(self.interface_exists("vkpod", self.netns))
        say("vhost-kernel port vkpod made in the pod's namespace")
        stub.DeletePort(api.DeletePortRequest(name="vkpod"), timeout=10)
        self.assertFalse(self.interface_exists("vkpod", self.netns))

    def test_without_sys_admin_only_pod_namespaces_are_refused(self):
        stub = self.start([c for c in DOCUMENTED if c != "sys_admin"])
        self.assert_refused(lambda: self.tap_port(stub, "vkpod", self.netns), "CAP_SYS_ADMIN")
        self.assertFalse(self.interface_exists("vkpod", self.netns))
        self.assertFalse(any(p.name == "vkpod" for p in stub.ListPorts(api.ListPortsRequest(), timeout=5).ports))
        self.tap_port(stub, "vkhost", None)
        self.assertTrue(self.interface_exists("vkhost"))
        stub.DeletePort(api.DeletePortRequest(name="vkhost"), timeout=10)
        self.vhost_user_forwards(stub)

    def test_without_net_admin_taps_are_refused(self):
        stub = self.start(["ipc_lock", "sys_nice"])
        self.assert_refused(lambda: self.tap_port(stub, "vknoadm", None), "CAP_NET_ADMIN")
        self.assertFalse(self.interface_exists("vknoadm"))
        self.vhost_user_forwards(stub)


if __name__ == "__main__":
    unittest.main(verbosity=2)
