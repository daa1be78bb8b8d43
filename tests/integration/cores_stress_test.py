"""Two polling cores under reconfiguration: steady dpdk-testpmd flows run through two
cross-connects of vhost-user ports while a loop creates and deletes ports (plain-tap
vhost-kernel ports, which have queues to poll without a frontend) and cross-connects
between them, and moves the steady flows' queues between the cores (pinning them to the
other core, unpinning, rebalancing). A sampler thread reads GetPortStats, ListCores and
/metrics over and over meanwhile.

Also pinning, rebalancing and the core settings through vhostctl: bad input refused
naming the field with nothing changed, pins kept across a restart.

What must hold:
- the steady flows lose no packet: after a drain, what testpmd sent on each port came
  back on its partner, and vhostd dropped nothing on the steady ports;
- no counter ever decreases (port and queue counters, core counters, every queue's busy
  cycles, every counter series in /metrics that stays);
- in every ListCores reading each rx queue is polled by exactly one core.

CPU plan on a 2-core machine: vhostd polls on CPUs 0 and 1, testpmd forwards on CPU 0
(its main lcore on CPU 1); oversubscribed, which slows forwarding but must not lose
anything.
"""

import json
import os
import shutil
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from exposition import Exposition  # noqa: E402
from prometheus_server import free_port, scrape  # noqa: E402
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, VhostdError, import_api, vhost_kernel_port, vhost_user_port  # noqa: E402


api = import_api()
QUEUES = 2
STEADY = ("s0", "s1", "s2", "s3")  # cross-connected s0-s1 and s2-s3
ROUNDS = int(os.environ.get("VHOSTD_STRESS_ROUNDS", "100"))
HAS_VHOST_NET = os.path.exists("/dev/vhost-net")


def say(message):
    print("CHECK: " + message, flush=True)


class Monotonic:
    """Remembers the last value of every counter it was shown; records each decrease."""

    def __init__(self):
        self.last = {}
        self.decreases = []
        self.readings = 0

    def see(self, key, value):
        before = self.last.get(key)
        if before is not None and value < before:
            self.decreases.append("%s: %s -> %s" % (key, before, value))
        self.last[key] = value


class Sampler(threading.Thread):
    """Reads the daemon's counters in a loop until stopped; every reading must be no
    lower than the one before, and every ListCores must poll each rx queue once."""

    def __init__(self, stub, metrics_url):
        super().__init__(daemon=True)
        self.stub = stub
        self.url = metrics_url
        self.counters = Monotonic()
        self.overlaps = []
        self.errors = []
        self.lcores_seen = {}  # port -> lcores seen polling one of its queues
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.read_ports()
                self.read_cores()
                self.read_metrics()
                self.counters.readings += 1
            except Exception as e:  # noqa: BLE001 -- reported by the test
                self.errors.append(repr(e))
            time.sleep(0.05)

    def read_ports(self):
        for name in STEADY:
            stats = self.stub.GetPortStats(api.GetPortStatsRequest(name=name))
            for field in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "tx_dropped", "rx_no_mbuf"):
                self.counters.see(("port", name, field), getattr(stats, field))
            for q in stats.queues:
                for field in ("rx_packets", "tx_packets", "tx_dropped"):
                    self.counters.see(("queue", name, q.queue, field), getattr(q, field))

    def read_cores(self):
        polled = {}
        for core in self.stub.ListCores(api.ListCoresRequest()).cores:
            for field in ("busy_cycles", "idle_cycles", "packets", "bursts"):
                self.counters.see(("core", core.lcore, field), getattr(core, field))
            for q in core.queues:
                if (q.port, q.queue) in polled:
                    self.overlaps.append("%s queue %d on lcores %d and %d" % (q.port, q.queue,
                                                                             polled[(q.port, q.queue)], core.lcore))
                polled[(q.port, q.queue)] = core.lcore
                self.lcores_seen.setdefault(q.port, set()).add(core.lcore)
                if q.port in STEADY:
                    self.counters.see(("queue busy", q.port, q.queue), q.busy_cycles)

    def read_metrics(self):
        status, _, body = scrape(self.url)
        if status != 200:
            raise AssertionError("GET %s: %d" % (self.url, status))
        # Churn ports have names used once, so a series that comes back must continue.
        for key, value in Exposition(body).monotonic_samples().items():
            self.counters.see(("metric",) + key, value)

    def finish(self):
        self.stop_event.set()
        self.join(30)


class TwoCoresUnderChurn(unittest.TestCase):
    def setUp(self):
        if not HAS_VHOST_NET and os.geteuid() != 0:
            self.skipTest("plain-tap vhost-kernel ports need root (CAP_NET_ADMIN) for the churn ports")
        self.workdir = short_tmpdir("vhs")
        for attempt in range(3):  # the free port may be taken before the daemon binds it
            self.metrics_port = free_port()
            self.daemon = Vhostd(self.workdir, cores="0-1",
                                 extra_flags=["--metrics-address=127.0.0.1:%d" % self.metrics_port])
            try:
                self.daemon.start()
                break
            except VhostdError:
                if attempt == 2 or "cannot listen" not in self.daemon.log_tail():
                    raise
        self.stub = self.daemon.stub()
        self.tag = "%d" % (os.getpid() % 10000)
        self.moves = 0

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_steady(self):
        for name in STEADY:
            port = vhost_user_port(name, socket_path=name + ".sock", queues=QUEUES)
            self.stub.CreatePort(api.CreatePortRequest(port=port))
        for a, b in (("s0", "s1"), ("s2", "s3")):
            self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x" + a + b, port_a=a, port_b=b)))
        vdevs = [virtio_user_vdev(i, os.path.join(self.daemon.socket_dir, n + ".sock"), queues=QUEUES)
                 for i, n in enumerate(STEADY)]
        return Testpmd(vdevs, lcores="1,0", main_lcore=1, rxq=QUEUES, txq=QUEUES, forward_mode="io")

    def churn_round(self, i):
        """One round: two plain-tap ports and a cross-connect appear and go (names used
        once), and the steady flows' queues move."""
        names = ["k%s%da" % (self.tag, i), "k%s%db" % (self.tag, i)]
        for name in names:
            port = vhost_kernel_port(name, tap_name=name, allow_plain_tap=not HAS_VHOST_NET)
            self.stub.CreatePort(api.CreatePortRequest(port=port))
        xname = "kx%s%d" % (self.tag, i)
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name=xname, port_a=names[0], port_b=names[1])))
        self.move_steady_queues(i)
        self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name=xname))
        for name in names:
            self.stub.DeletePort(api.DeletePortRequest(name=name))

    def move_steady_queues(self, i):
        """Pins a steady queue to the core that does not poll it (two rounds in three),
        or drops every pin and rebalances."""
        cores = self.stub.ListCores(api.ListCoresRequest()).cores
        where = {(q.port, q.queue): c.lcore for c in cores for q in c.queues}
        if i % 3 == 2:
            for name in STEADY:
                for q in range(QUEUES):
                    self.stub.UnpinQueue(api.UnpinQueueRequest(port=name, queue=q, allow_missing=True))
            self.moves += len(self.stub.RebalanceCores(api.RebalanceCoresRequest()).moves)
            return
        name, queue = STEADY[i % len(STEADY)], (i // len(STEADY)) % QUEUES
        other = next(c.lcore for c in cores if c.lcore != where[(name, queue)])
        self.stub.PinQueue(api.PinQueueRequest(pin=api.QueuePin(port=name, queue=queue, lcore=other)))
        self.moves += 1

    def test_steady_flows_survive_churn(self):
        tp = self.create_steady()
        with tp:
            for name in STEADY:
                deadline = time.time() + 20
                while self.stub.GetPort(api.GetPortRequest(name=name)).status.state != api.PortStatus.UP:
                    self.assertLess(time.time(), deadline, name + " never came up")
                    time.sleep(0.1)
            sampler = Sampler(self.stub, "http://127.0.0.1:%d/metrics" % self.metrics_port)
            tp.clear_stats()
            tp.start_forwarding(tx_first=1)
            sampler.start()
            started = time.time()
            try:
                for i in range(ROUNDS):
                    self.churn_round(i)
            finally:
                sampler.finish()
            churn_seconds = time.time() - started
            tp.stop_forwarding()
            time.sleep(0.5)
            tp.set_fwd("rxonly")  # drain what is still in flight
            tp.start_forwarding()
            time.sleep(0.5)
            tp.stop_forwarding()
            stats = tp.port_stats()
            vhostd = {n: self.stub.GetPortStats(api.GetPortStatsRequest(name=n)) for n in STEADY}
            shares = [q.share_percent for c in self.stub.ListCores(api.ListCoresRequest()).cores
                      for q in c.queues if q.HasField("share_percent")]

        say("%d churn rounds in %.1f s, %d steady queues moved, %d readings of every counter"
            % (ROUNDS, churn_seconds, self.moves, sampler.counters.readings))
        self.assertGreater(self.moves, ROUNDS // 2)
        self.assertEqual(sampler.errors, [])
        self.assertGreater(sampler.counters.readings, 20)  # readings interleaved with the churn
        say("no rx queue was polled by two cores in any ListCores reading")
        self.assertEqual(sampler.overlaps, [])
        say("both cores polled steady queues, and churn ports were polled too")
        self.assertEqual(len(set().union(*(sampler.lcores_seen.get(n, set()) for n in STEADY))), 2)
        self.assertTrue(any(n.startswith("k") for n in sampler.lcores_seen), sampler.lcores_seen)
        say("no counter decreased (ports, queues, cores, queue busy cycles, /metrics)")
        self.assertEqual(sampler.counters.decreases, [])
        say("the steady flows lost no packet: each testpmd port's sends came back on its partner")
        for a, b in ((0, 1), (2, 3)):
            self.assertGreater(stats[a]["tx_packets"], 10000, stats)
            self.assertEqual(stats[a]["tx_packets"], stats[b]["rx_packets"], (a, b, stats))
            self.assertEqual(stats[b]["tx_packets"], stats[a]["rx_packets"], (b, a, stats))
        for index, name in enumerate(STEADY):
            self.assertEqual(vhostd[name].rx_packets, stats[index]["tx_packets"], name)
            self.assertEqual(vhostd[name].tx_packets, stats[index]["rx_packets"], name)
            self.assertEqual(vhostd[name].tx_dropped, 0, name)
        say("after %.0f s of history the steady queues have their share of a core (%s %%)"
            % (churn_seconds, ", ".join("%.1f" % x for x in shares)))
        # Queues that moved in the last seconds have no history on their new core yet.
        if churn_seconds > 10:
            self.assertGreater(len(shares), 0)
        self.assertTrue(all(0 <= x <= 100 for x in shares), shares)
        say("every churn port and cross-connect is gone again")
        ports = self.stub.ListPorts(api.ListPortsRequest()).ports
        self.assertEqual(sorted(p.name for p in ports), list(STEADY))


class PinsAndRebalance(unittest.TestCase):
    """vhostctl core pin/unpin/rebalance/settings against a real vhostd with two cores."""

    def setUp(self):
        self.workdir = short_tmpdir("vhp")
        self.daemon = Vhostd(self.workdir, cores="0-1", extra_flags=["--metrics-address="])
        self.daemon.start()
        self.stub = self.daemon.stub()
        for name in ("a", "b"):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock",
                                                                            queues=QUEUES)))
        self.daemon.vhostctl("xconnect", "create", "x", "--ports", "a,b")

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def where(self):
        return {(q.port, q.queue): c.lcore for c in self.stub.ListCores(api.ListCoresRequest()).cores
                for q in c.queues}

    def durable(self):
        parts = []
        for path in (self.daemon.state_file, self.daemon.state_file + ".journal"):
            parts.append(open(path).read() if os.path.exists(path) else None)
        return parts

    def test_pin_rebalance_and_settings_through_vhostctl(self):
        lcores = sorted(c.lcore for c in self.stub.ListCores(api.ListCoresRequest()).cores)
        self.assertEqual(len(lcores), 2)
        other = next(l for l in lcores if l != self.where()[("a", 1)])
        out = self.daemon.vhostctl("core", "pin", "a", "1", str(other)).stdout
        self.assertEqual(out, "rx queue 1 of a pinned to lcore %d\n" % other)
        say("the pinned queue moved, its core is isolated: every other queue is on the other core")
        where = self.where()
        self.assertEqual(where[("a", 1)], other)
        self.assertEqual({l for k, l in where.items() if k != ("a", 1)}, {l for l in lcores if l != other})
        table = self.daemon.vhostctl("core", "list").stdout
        self.assertRegex(table, r"a/1->b\s+yes")
        self.assertIn("assign: cycles   isolate pinned: yes   sleep max: 0 us", table)

        say("bad pins are refused naming the field, and change nothing")
        before, placed = self.durable(), self.where()
        for args, field in ((("a", "1", "99"), "pin.lcore: 99 is not a polling lcore"),
                            (("a", "7", str(other)), "pin.queue: port a has 2 queues"),
                            (("zz", "0", str(other)), "pin.port: port zz does not exist"),
                            (("a", "-1", str(other)), "invalid value '-1' for QUEUE")):
            result = self.daemon.vhostctl("core", "pin", *args, check=False)
            self.assertNotEqual(result.returncode, 0, args)
            self.assertIn(field, result.stderr, args)
        result = self.daemon.vhostctl("core", "settings", "--sleep-max-us", "20000", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("sleep_max_us: 20000 is above the limit of 10000", result.stderr)
        self.assertEqual(self.durable(), before)
        self.assertEqual(self.where(), placed)

        say("a rebalance's dry run lists the moves the rebalance then makes")
        self.daemon.vhostctl("core", "settings", "--isolate-pinned=false", "--assign", "roundrobin")
        dry = json.loads(self.daemon.vhostctl("core", "rebalance", "--dry-run", output="json").stdout)
        self.assertEqual(self.where(), placed, "a dry run moves nothing")
        done = json.loads(self.daemon.vhostctl("core", "rebalance", output="json").stdout)
        self.assertTrue(done["applied"])
        self.assertEqual(dry.get("moves", []), done.get("moves", []))
        for move in done.get("moves", []):
            self.assertEqual(self.where()[(move["port"], move["queue"])], move["toLcore"])
        self.assertEqual(self.where()[("a", 1)], other, "the pin holds through a rebalance")
        self.assertEqual(set(self.where().values()), set(lcores), "without isolation both cores poll")

        say("the pin survives a restart; settings changed through the API do not (flags are the defaults)")
        self.daemon.vhostctl("core", "settings", "--sleep-max-us", "100")
        self.daemon.stop()
        self.daemon.start()
        self.stub = self.daemon.stub()
        listed = self.stub.ListCores(api.ListCoresRequest())
        self.assertEqual([(p.port, p.queue, p.lcore) for p in listed.pins], [("a", 1, other)])
        self.assertEqual(self.where()[("a", 1)], other)
        self.assertEqual(listed.settings.sleep_max_us, 0)
        self.daemon.vhostctl("core", "unpin", "a", "1")
        self.assertEqual(len(self.stub.ListCores(api.ListCoresRequest()).pins), 0)
        self.assertNotEqual(self.daemon.vhostctl("core", "unpin", "a", "1", check=False).returncode, 0)
        self.daemon.vhostctl("core", "unpin", "a", "1", "--allow-missing")


if __name__ == "__main__":
    unittest.main(verbosity=2)
