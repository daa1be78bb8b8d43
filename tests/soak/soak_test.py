"""Soak, bounded in count: frontend connect/disconnect cycles and ports created and
deleted while a steady testpmd flow runs, then SIGKILL restarts. Afterwards the daemon's
open fds, threads and mbufs in use are back to their baseline and its RSS grew by less
than RSS_SLACK; every restart restores exactly the last acknowledged state.

Counts come from the environment (CI runs the defaults, 10000/1000/200; the full soak
adds SOAK_RESTARTS=1000, about 5 minutes more; see README "Tests and benchmark"):
  SOAK_CONNECTS  frontend connect/disconnect cycles (every 10th a full handshake)
  SOAK_CHURN     port + cross-connect create/delete cycles under traffic
  SOAK_RESTARTS  SIGKILL restarts, each after a random acknowledged change
"""

import os
import random
import shutil
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import vhost_user_client as vu  # noqa: E402
from prometheus_server import free_port, scrape  # noqa: E402
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
CONNECTS = int(os.environ.get("SOAK_CONNECTS", "10000"))
CHURN = int(os.environ.get("SOAK_CHURN", "1000"))
RESTARTS = int(os.environ.get("SOAK_RESTARTS", "200"))
RSS_SLACK = 4 << 20


def say(message):
    print("CHECK: " + message, flush=True)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class TrafficSoak(unittest.TestCase):
    """One daemon: connects on port h0, churn of other ports, a steady s0-s1 flow."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = short_tmpdir("soak")
        cls.metrics_port = free_port()
        # A short event history: the history is bounded memory that fills as the cycles
        # publish events (4096 events of up to a few KiB by default), which would hide a
        # leak of the same size.
        cls.daemon = Vhostd(cls.workdir, cores="1", file_prefix="soak%d" % os.getpid(),
                            extra_flags=["--metrics-address=127.0.0.1:%d" % cls.metrics_port, "--event-history=64"])
        cls.daemon.start()
        cls.stub = cls.daemon.stub()
        for name in ("s0", "s1", "h0"):
            cls.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))
        cls.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="steady", port_a="s0", port_b="s1")))
        cls.testpmd = Testpmd([virtio_user_vdev(i, os.path.join(cls.daemon.socket_dir, n + ".sock"))
                               for i, n in enumerate(("s0", "s1"))],
                              lcores="1,0", main_lcore=1, forward_mode="io",
                              log_path=os.path.join(cls.workdir, "testpmd.log"))
        cls.testpmd.start()

    @classmethod
    def tearDownClass(cls):
        cls.testpmd.close()
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def mbufs_in_use(self):
        status, _, body = scrape("http://127.0.0.1:%d/metrics" % self.metrics_port)
        self.assertEqual(status, 200)
        return int(float([line for line in body.splitlines() if line.startswith("vhostd_mbufs_in_use ")][0].split()[1]))

    def resources(self):
        pid = self.daemon.proc.pid
        return {"fds": vu.open_fds(pid), "threads": len(os.listdir("/proc/%d/task" % pid)),
                "mbufs": self.mbufs_in_use()}

    def settled(self, baseline):
        deadline = time.time() + 10
        while True:
            now = self.resources()
            if now == baseline or time.time() > deadline:
                return now
            time.sleep(0.5)

    def connect_cycle(self, i, mem):
        with vu.Frontend.connect(os.path.join(self.daemon.socket_dir, "h0.sock")) as fe:
            if i % 10 == 0:
                fe.handshake(mem)  # a device comes up and goes down again
            else:
                fe.get_features()

    def churn_cycle(self, i):
        a, b = "c%da" % (i % 7), "c%db" % (i % 7)
        for name in (a, b):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock",
                                                                            queues=1 + i % 2)), timeout=5)
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="churn", port_a=a, port_b=b)), timeout=5)
        self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="churn"), timeout=5)
        for name in (a, b):
            self.stub.DeletePort(api.DeletePortRequest(name=name), timeout=5)

    def test_connects_and_churn_under_traffic_leak_nothing(self):
        mem = vu.GuestMemory(1 << 20)
        # Warm-up under traffic: what is made or first touched lazily (gRPC threads,
        # lib/vhost's, the mbuf pool's pages as packets cycle through it) counts in the
        # baseline, so what grows afterwards is what the cycles leave behind.
        self.testpmd.start_forwarding(tx_first=4)
        for i in range(200):
            self.connect_cycle(i, mem)
        for i in range(20):
            self.churn_cycle(i)
        time.sleep(2)
        self.testpmd.drain()
        time.sleep(1)
        baseline = self.resources()
        baseline_rss = rss_bytes(self.daemon.proc.pid)
        say("baseline: %s, RSS %.1f MiB" % (baseline, baseline_rss / 2**20))
        before = self.testpmd.port_stats()
        self.testpmd.start_forwarding(tx_first=4)
        started = time.time()
        for i in range(1, CONNECTS + 1):
            self.connect_cycle(i, mem)
        connect_seconds = time.time() - started
        started = time.time()
        for i in range(1, CHURN + 1):
            self.churn_cycle(i)
        churn_seconds = time.time() - started
        stats = self.testpmd.drain()
        sent = [stats[p]["tx_packets"] - before[p]["tx_packets"] for p in (0, 1)]
        self.assertGreater(min(sent), 1000)
        self.assertEqual(stats[0]["tx_packets"], stats[1]["rx_packets"], stats)
        self.assertEqual(stats[1]["tx_packets"], stats[0]["rx_packets"], stats)
        after = self.settled(baseline)
        rss = rss_bytes(self.daemon.proc.pid)
        port = self.stub.GetPort(api.GetPortRequest(name="h0"))
        say("%d connect cycles in %.1f s (%d frontend connects counted), %d churn cycles in %.1f s; "
            "s0-s1 forwarded %d+%d packets without loss" % (
                CONNECTS, connect_seconds, port.status.frontend_connects, CHURN, churn_seconds, *sent))
        say("after: %s, RSS %.1f MiB (%+.2f MiB)" % (after, rss / 2**20, (rss - baseline_rss) / 2**20))
        self.assertEqual(after, baseline)
        if "ASAN_OPTIONS" in os.environ:
            # AddressSanitizer keeps freed memory in quarantine (256 MiB): RSS says
            # nothing there, and LeakSanitizer checks the heap at exit instead.
            print("RSS bound not checked: running under AddressSanitizer (tests/sanitizers.sh)")
        else:
            self.assertLess(rss - baseline_rss, RSS_SLACK)
        mem.close()


class RestartSoak(unittest.TestCase):
    """SIGKILL after a random acknowledged change; the restart must restore it exactly."""

    def setUp(self):
        self.workdir = short_tmpdir("soakr")
        self.daemon = Vhostd(self.workdir, cores="1", file_prefix="soakr%d" % os.getpid(),
                             extra_flags=["--metrics-address=", "--memory-mb=256", "--mbufs=2048"])

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def observed(self, stub):
        """What the API says the desired state is (specs, labels, links, bridges, pins)."""
        ports = sorted((p.name, p.spec.SerializeToString(deterministic=True), tuple(sorted(p.labels.items())))
                       for p in stub.ListPorts(api.ListPortsRequest(page_size=1000), timeout=10).ports)
        links = sorted((x.name, x.port_a, x.port_b)
                       for x in stub.ListCrossConnects(api.ListCrossConnectsRequest(), timeout=10).cross_connects)
        bridges = sorted((b.name, tuple(sorted(p.port for p in b.ports)))
                         for b in stub.ListBridges(api.ListBridgesRequest(), timeout=10).bridges)
        return ports, links, bridges

    def random_change(self, stub, rng, step):
        ports = [p.name for p in stub.ListPorts(api.ListPortsRequest(page_size=1000), timeout=10).ports]
        links = {x.name for x in stub.ListCrossConnects(api.ListCrossConnectsRequest(), timeout=10).cross_connects}
        choice = rng.random() if len(ports) < 40 else 0.9  # a walk that stays near 20 ports
        if choice < 0.5 or len(ports) < 2:
            name = "p%d" % step
            port = vhost_user_port(name, socket_path=name + ".sock", queues=rng.choice((1, 2)))
            port.labels["step"] = str(step)
            stub.CreatePort(api.CreatePortRequest(port=port), timeout=10)
        elif choice < 0.7 and not links:
            a, b = rng.sample(ports, 2)
            try:
                stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                    cross_connect=api.CrossConnect(name="x%d" % step, port_a=a, port_b=b)), timeout=10)
            except grpc.RpcError as e:  # a port in a bridge: refused, and nothing changed
                self.assertEqual(e.code(), grpc.StatusCode.FAILED_PRECONDITION, e.details())
        elif links:
            stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name=sorted(links)[0]), timeout=10)
        else:  # no cross-connect: any port may go
            stub.DeletePort(api.DeletePortRequest(name=rng.choice(ports)), timeout=10)

    def test_every_restart_restores_the_last_acknowledged_state(self):
        rng = random.Random(1234)
        self.daemon.start()
        started = time.time()
        for step in range(RESTARTS):
            stub = self.daemon.stub()
            self.random_change(stub, rng, step)
            acknowledged = self.observed(stub)
            time.sleep(rng.random() * 0.05)  # the kill lands anywhere after the ack
            self.daemon.kill()
            self.daemon.start()
            restored = self.observed(self.daemon.stub())
            self.assertEqual(restored, acknowledged, "restart %d" % step)
        seconds = time.time() - started
        ports, links, _ = self.observed(self.daemon.stub())
        say("%d SIGKILL restarts in %.1f s (%.2f s each); each restored the last acknowledged state "
            "(now %d ports, %d cross-connects)" % (RESTARTS, seconds, seconds / max(1, RESTARTS), len(ports),
                                                    len(links)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
