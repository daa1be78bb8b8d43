"""End to end: a real vhostd, driven by vhostctl and a Python gRPC client, forwarding
between two vhost-user ports fed by a real dpdk-testpmd (net_virtio_user frontends).

CPU plan on a 2-core machine: vhostd polls on CPU 1 (its control thread floats on CPU 0);
testpmd forwards on CPU 0 (its main lcore sleeps on CPU 1).
"""

import json
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api  # noqa: E402

import grpc  # noqa: E402

api = import_api()
SETTLE = 0.5  # seconds for the daemon's core to drain its rings after testpmd stops


def frontend(socket_paths, queues=1, server=False):
    """A testpmd with one virtio_user port per socket, io-forwarding port 0 <-> 1."""
    vdevs = [virtio_user_vdev(i, path, queues=queues, server=server) for i, path in enumerate(socket_paths)]
    return Testpmd(vdevs, lcores="1,0", main_lcore=1, rxq=queues, txq=queues, forward_mode="io")


def run_traffic(tp):
    tp.clear_stats()
    return tp.loop_and_drain(settle=SETTLE)


def port_stats(stub, name):
    return stub.GetPortStats(api.GetPortStatsRequest(name=name))


class VhostdEndToEnd(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("vhe")
        self.daemon = Vhostd(self.workdir, cores="1")
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def sock(self, name):
        return os.path.join(self.daemon.socket_dir, name)

    def create_pair(self, queues=1, mode="server"):
        # One port through the CLI, one through the Python client: both reach the daemon.
        self.daemon.vhostctl("port", "create", "p0", "--type", "vhost-user", "--socket", "p0.sock",
                             "--mode", mode, "--queues", str(queues))
        spec = api.VhostUserSpec(socket_path="p1.sock", queues=queues,
                                 mode=api.VhostUserSpec.MODE_CLIENT if mode == "client" else api.VhostUserSpec.MODE_SERVER)
        self.stub.CreatePort(api.CreatePortRequest(port=api.Port(name="p1", vhost_user=spec)))
        self.daemon.vhostctl("xconnect", "create", "x01", "--ports", "p0,p1")

    def assert_counters_agree(self, tp_stats, queues=1, tp=None):
        """vhostd's per-port counters equal testpmd's, in both directions."""
        s0, s1 = port_stats(self.stub, "p0"), port_stats(self.stub, "p1")
        # testpmd port 0 sends into p0; vhostd forwards p0 -> p1 -> testpmd port 1.
        self.assertGreater(tp_stats[0]["tx_packets"], 1000)
        self.assertGreater(tp_stats[1]["tx_packets"], 1000)
        self.assertEqual(s0.rx_packets, tp_stats[0]["tx_packets"])
        self.assertEqual(s1.rx_packets, tp_stats[1]["tx_packets"])
        self.assertEqual(s1.tx_packets, tp_stats[1]["rx_packets"])
        self.assertEqual(s0.tx_packets, tp_stats[0]["rx_packets"])
        self.assertEqual(s0.rx_bytes, tp_stats[0]["tx_bytes"])
        self.assertEqual(s1.tx_bytes, tp_stats[1]["rx_bytes"])
        # Nothing forwarded was lost: received by vhostd = delivered + dropped.
        self.assertEqual(s0.rx_packets, s1.tx_packets + s1.tx_dropped)
        self.assertEqual(s1.rx_packets, s0.tx_packets + s0.tx_dropped)
        if tp is not None:
            # Per queue: testpmd's virtio_user per-queue xstats against vhostd's.
            for port_index, stats in ((0, s0), (1, s1)):
                tq = tp.queue_stats(port_index)
                for q in range(queues):
                    self.assertEqual(stats.queues[q].rx_packets, tq[q]["tx_good_packets"], (port_index, q))
                    self.assertEqual(stats.queues[q].tx_packets, tq[q]["rx_good_packets"], (port_index, q))
        return s0, s1

    def test_forwarding_reconnect_and_restart(self):
        self.create_pair()
        status = self.stub.GetPort(api.GetPortRequest(name="p0")).status
        self.assertEqual(status.state, api.PortStatus.WAITING_FOR_PEER)
        cores = self.stub.ListCores(api.ListCoresRequest()).cores
        self.assertEqual(sorted((q.port, q.forwards_to) for c in cores for q in c.queues),
                         [("p0", "p1"), ("p1", "p0")])

        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            port = self.stub.GetPort(api.GetPortRequest(name="p0"))
            self.assertEqual(port.status.state, api.PortStatus.UP)
            self.assertIn("VERSION_1", port.status.negotiated_feature_names)
            first = self.assert_counters_agree(run_traffic(tp), tp=tp)

        # The frontend went away: the port waits, counters stay (monotonic).
        deadline = time.time() + 10
        while self.stub.GetPort(api.GetPortRequest(name="p0")).status.state != api.PortStatus.WAITING_FOR_PEER:
            self.assertLess(time.time(), deadline, "p0 never noticed the frontend leaving")
            time.sleep(0.1)
        self.assertEqual(port_stats(self.stub, "p0").rx_packets, first[0].rx_packets)

        # A new frontend on the same sockets: traffic resumes.
        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            stats = run_traffic(tp)
            s0 = port_stats(self.stub, "p0")
            self.assertEqual(s0.rx_packets - first[0].rx_packets, stats[0]["tx_packets"])
            self.assertEqual(self.stub.GetPort(api.GetPortRequest(name="p0")).status.frontend_connects, 2)

        # kill -9 the daemon: ports and cross-connect come back from the state file.
        before = json.loads(self.daemon.vhostctl("port", "list", output="json").stdout)
        self.daemon.kill(signal.SIGKILL)
        self.daemon.start()
        self.stub = self.daemon.stub()
        after = json.loads(self.daemon.vhostctl("port", "list", output="json").stdout)
        self.assertEqual([(p["name"], p["vhostUser"]) for p in before["ports"]],
                         [(p["name"], p["vhostUser"]) for p in after["ports"]])
        xconnects = self.stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
        self.assertEqual([(x.name, x.port_a, x.port_b) for x in xconnects], [("x01", "p0", "p1")])
        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            self.assert_counters_agree(run_traffic(tp), tp=tp)

        # A clean stop removes the vhost-user sockets.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertFalse(os.path.exists(self.sock("p0.sock")))

    def test_multiqueue_client_mode_reconnects(self):
        # vhostd connects to sockets testpmd listens on (virtio_user server=1).
        self.create_pair(queues=2, mode="client")
        for attempt in range(2):  # the second round proves vhostd reconnected by itself
            with frontend([self.sock("p0.sock"), self.sock("p1.sock")], queues=2, server=True) as tp:
                deadline = time.time() + 15
                while any(self.stub.GetPort(api.GetPortRequest(name=n)).status.state != api.PortStatus.UP
                          for n in ("p0", "p1")):
                    self.assertLess(time.time(), deadline, "vhostd did not connect to the frontend")
                    time.sleep(0.1)
                before = (port_stats(self.stub, "p0"), port_stats(self.stub, "p1"))
                stats = run_traffic(tp)
                s0, s1 = port_stats(self.stub, "p0"), port_stats(self.stub, "p1")
                self.assertEqual(s0.rx_packets - before[0].rx_packets, stats[0]["tx_packets"])
                self.assertEqual(s1.tx_packets - before[1].tx_packets, stats[1]["rx_packets"])
                # Both queue pairs carry traffic and are polled.
                for q in range(2):
                    self.assertGreater(s0.queues[q].rx_packets - before[0].queues[q].rx_packets, 0, q)
                port = self.stub.GetPort(api.GetPortRequest(name="p0"))
                self.assertEqual([q.lcore for q in port.status.queues], [1, 1])
                self.assertTrue(all(q.rx_enabled and q.tx_enabled for q in port.status.queues))

    def test_bad_requests_change_nothing(self):
        def state():
            try:
                with open(self.daemon.state_file) as f:
                    return f.read()
            except FileNotFoundError:
                return None

        initial = state()
        # The API socket is group-accessible only.
        self.assertEqual(os.stat(self.daemon.grpc_socket).st_mode & 0o777, 0o660)
        os.symlink("/tmp", os.path.join(self.daemon.socket_dir, "escape"))
        cases = [
            (["port", "create", "Bad_Name", "--type", "vhost-user", "--socket", "a.sock"], "port.name"),
            (["port", "create", "a", "--type", "vhost-user", "--socket", "/tmp/a.sock"], "port.vhost_user.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket", "../a.sock"], "port.vhost_user.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket", "escape/a.sock"], "port.vhost_user.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket", "a.sock", "--queues", "0"], "port.vhost_user.queues"),
            (["port", "create", "a", "--type", "vhost-user", "--socket", "a.sock", "--queues", "4096"], "port.vhost_user.queues"),
        ]
        for argv, field in cases:
            result = self.daemon.vhostctl(*argv, check=False)
            self.assertEqual(result.returncode, 1, argv)
            self.assertIn("INVALID_ARGUMENT", result.stderr, argv)
            self.assertIn(field, result.stderr, argv)
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.CreatePort(api.CreatePortRequest(port=api.Port(name="nospec")))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("port.spec", raised.exception.details())
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.CreatePort(api.CreatePortRequest(port=api.Port(name="k", vdpa=api.VdpaSpec(device="vdpa0"))))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("port.vdpa.device", raised.exception.details())
        # Nothing was created: no socket file, no port, no state change.
        self.assertEqual(sorted(os.listdir(self.daemon.socket_dir)), ["escape"])
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 0)
        self.assertEqual(state(), initial)

        # Idempotent create; a different spec under the same name is ALREADY_EXISTS.
        spec = api.Port(name="a", vhost_user=api.VhostUserSpec(socket_path="a.sock"))
        first = self.stub.CreatePort(api.CreatePortRequest(port=spec))
        again = self.stub.CreatePort(api.CreatePortRequest(port=spec))
        self.assertEqual(first.vhost_user, again.vhost_user)
        other = api.Port(name="a", vhost_user=api.VhostUserSpec(socket_path="b.sock"))
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.CreatePort(api.CreatePortRequest(port=other))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        # Deleting a cross-connected port is refused until the cross-connect is gone.
        self.stub.CreatePort(api.CreatePortRequest(port=other.__class__(name="b", vhost_user=api.VhostUserSpec(socket_path="b.sock"))))
        self.daemon.vhostctl("xconnect", "create", "ab", "--ports", "a,b")
        result = self.daemon.vhostctl("port", "delete", "a", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAILED_PRECONDITION", result.stderr)
        self.daemon.vhostctl("xconnect", "delete", "ab")
        self.daemon.vhostctl("port", "delete", "a")
        self.assertFalse(os.path.exists(self.sock("a.sock")))
        result = self.daemon.vhostctl("port", "get", "a", check=False)
        self.assertIn("NOT_FOUND", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
