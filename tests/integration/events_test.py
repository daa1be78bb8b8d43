"""WatchEvents and `vhostctl events` against a real daemon (--event-history=32) with a
real dpdk-testpmd frontend.

- A follow watch sees, in order and numbered 1, 2, 3, ... with one instance id and
  non-decreasing times: port creation, the frontend connecting, its features and
  queues, the port going UP, cross-connect and bridge changes, the frontend leaving,
  the port's deletion.
- A port filter sees only that port's events.
- Resuming after sequence N returns exactly the retained events after N; resuming from
  before the history starts with EventsMissed HISTORY_EXPIRED naming the range; after a
  restart the old instance's numbers give DAEMON_RESTARTED.
- 1,000 port creations all reach a follow watch; a client that disconnects and resumes
  from the last sequence it saw sees every event once, in order; a watcher that reads
  nothing is told it fell behind (SLOW_WATCHER).
- A watch with a stats_interval gets a StatsSample (sequence 0, not in the history) at
  once and then one per interval, between the events: every port's counters, growing
  under testpmd traffic, and the cores; with a port filter only that port's. Bad
  intervals are refused naming the field.
- `vhostctl events` prints the history, `--since N` what follows N, `-o json` one
  protobuf-JSON object per line, and `--follow` prints a new event as it happens.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import unittest

import grpc
from google.protobuf import duration_pb2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402

api = import_api()
HISTORY = 32


def say(message):
    print("CHECK: " + message, flush=True)


def duration(seconds):
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def wait_until(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


class Collector:
    """A follow watch read on a thread."""

    def __init__(self, stub, **request):
        # From the start of the history unless told otherwise: each test's daemon is new,
        # so that is every event, however late the watch registers.
        request.setdefault("after_sequence", 0)
        self.call = stub.WatchEvents(api.WatchEventsRequest(follow=True, **request))
        self.events = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for event in self.call:
                self.events.append(event)
        except Exception:  # cancelled at close
            pass

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for event in list(self.events):
                if predicate(event):
                    return event
            time.sleep(0.05)
        raise AssertionError("no such event among %s" % [e.WhichOneof("kind") for e in self.events])

    def close(self):
        self.call.cancel()
        self.thread.join(5)


class EventsTest(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("events")
        self.daemon = Vhostd(self.workdir, cores="1", file_prefix="events%d" % os.getpid(),
                             extra_flags=["--metrics-address=", "--event-history=%d" % HISTORY,
                                          "--max-ports=1000"])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def sock(self, name):
        return os.path.join(self.daemon.socket_dir, name + ".sock")

    def history(self, **request):
        return list(self.stub.WatchEvents(api.WatchEventsRequest(follow=False, **request), timeout=5))

    def test_a_follow_watch_sees_the_life_of_a_port(self):
        all_events = Collector(self.stub)
        only_p0 = Collector(self.stub, port="p0")
        time.sleep(0.3)  # both watches registered
        for name in ("p0", "p1"):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x", port_a="p0", port_b="p1")))
        tp = Testpmd([virtio_user_vdev(0, self.sock("p0"))], lcores="1,0", main_lcore=1, forward_mode="io",
                     log_path=os.path.join(self.workdir, "testpmd.log"))
        tp.start()
        all_events.wait_for(lambda e: e.HasField("port_state_changed") and e.port_state_changed.port == "p0"
                            and e.port_state_changed.new_state == api.PortStatus.UP)
        tp.close()
        all_events.wait_for(lambda e: e.HasField("frontend_disconnected"))
        self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="x"))
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0")))
        self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port="p1")))
        self.stub.DeletePort(api.DeletePortRequest(name="p0"))
        all_events.wait_for(lambda e: e.HasField("port_deleted"))
        time.sleep(0.3)
        all_events.close()
        only_p0.close()
        events = all_events.events
        kinds = [e.WhichOneof("kind") for e in events]
        say("events: %s" % kinds)
        self.assertEqual([e.sequence for e in events], list(range(1, len(events) + 1)))
        self.assertEqual(len({e.instance_id for e in events}), 1)
        times = [e.time.ToNanoseconds() for e in events]
        self.assertEqual(times, sorted(times))

        def first(kind, **fields):
            for i, e in enumerate(events):
                if e.WhichOneof("kind") == kind and all(getattr(getattr(e, kind), k) == v for k, v in fields.items()):
                    return i
            self.fail("no %s %s in %s" % (kind, fields, kinds))
        order = [first("port_created"), first("cross_connect_created"), first("frontend_connected", port="p0"),
                 first("features_negotiated", port="p0"), first("queue_state_changed", port="p0"),
                 first("frontend_disconnected", port="p0"), first("cross_connect_deleted"),
                 first("bridge_changed"), first("port_deleted", port="p0")]
        self.assertEqual(order, sorted(order), kinds)
        self.assertIn("VERSION_1", events[first("features_negotiated", port="p0")]
                      .features_negotiated.negotiated_feature_names)
        # The filtered watch: p0's events only (its cross-connect's included), same numbers.
        p0_numbers = [e.sequence for e in only_p0.events]
        self.assertTrue(p0_numbers and p0_numbers == sorted(p0_numbers))
        for e in only_p0.events:
            body = getattr(e, e.WhichOneof("kind"))
            if hasattr(body, "port") and isinstance(body.port, str) and e.WhichOneof("kind") != "bridge_changed":
                self.assertEqual(body.port, "p0", e)
        self.assertFalse(any(e.HasField("bridge_changed") for e in only_p0.events))
        say("%d events in order; the p0 watch saw %d of them" % (len(events), len(only_p0.events)))

    def test_stats_samples_every_interval(self):
        for name in ("p0", "p1"):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x", port_a="p0", port_b="p1")))
        tp = Testpmd([virtio_user_vdev(i, self.sock(n)) for i, n in enumerate(("p0", "p1"))], lcores="1,0",
                     main_lcore=1, forward_mode="io", log_path=os.path.join(self.workdir, "testpmd.log"))
        tp.start()
        interval = 0.2
        every = Collector(self.stub, stats_interval=duration(interval))
        only_p1 = Collector(self.stub, port="p1", stats_interval=duration(interval))
        try:
            for name in ("p0", "p1"):
                wait_until(lambda: self.stub.GetPort(api.GetPortRequest(name=name)).status.state == api.PortStatus.UP)
            tp.start_forwarding(tx_first=4)
            started = time.time()
            samples = lambda c: [e for e in list(c.events) if e.HasField("stats_sample")]  # noqa: E731
            wait_until(lambda: len(samples(every)) >= 8 and len(samples(only_p1)) >= 8, timeout=20)
            took = time.time() - started
        finally:
            every.close()
            only_p1.close()
            tp.close()
        got = samples(every)
        for e in got:
            self.assertEqual(e.sequence, 0)
            self.assertEqual([p.name for p in e.stats_sample.ports], ["p0", "p1"])
            self.assertEqual([c.lcore for c in e.stats_sample.cores], [1])
        times = [e.time.ToNanoseconds() / 1e9 for e in got]
        gaps = [b - a for a, b in zip(times, times[1:])]
        say("%d samples, gaps %.3f..%.3f s" % (len(got), min(gaps), max(gaps)))
        # The daemon keeps the cadence (a late sample is followed by an early one), so the
        # mean gap is the interval; none may stretch far beyond it.
        self.assertTrue(interval * 0.8 <= statistics.mean(gaps) <= interval * 2, gaps)
        self.assertTrue(all(0 < g <= interval * 5 for g in gaps), gaps)
        self.assertLess(took, 8 * interval * 4)
        rx = [e.stats_sample.ports[0].rx_packets for e in got]
        self.assertEqual(rx, sorted(rx))
        self.assertGreater(rx[-1], rx[0])
        for e in samples(only_p1):
            self.assertEqual([p.name for p in e.stats_sample.ports], ["p1"])
            self.assertEqual(len(e.stats_sample.cores), 0)
        # Samples are not history.
        self.assertFalse(any(e.HasField("stats_sample") for e in self.history(after_sequence=0)))
        for request, message in ((dict(follow=False, stats_interval=duration(1)), "stats_interval: only with follow"),
                                 (dict(follow=True, stats_interval=duration(0.05)), "stats_interval: must be from")):
            with self.assertRaises(grpc.RpcError) as caught:
                list(self.stub.WatchEvents(api.WatchEventsRequest(**request), timeout=5))
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(message, caught.exception.details())

    def test_resume_expired_history_and_restart(self):
        for i in range(20):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("q%d" % i, socket_path="q%d.sock" % i)))
        everything = self.history(after_sequence=0)
        self.assertEqual([e.sequence for e in everything], list(range(1, 21)))
        instance = everything[0].instance_id
        resumed = self.history(after_sequence=15, instance_id=instance)
        self.assertEqual([e.sequence for e in resumed], [16, 17, 18, 19, 20])
        for i in range(20):  # 40 events: the history keeps the last 32
            self.stub.DeletePort(api.DeletePortRequest(name="q%d" % i))
        expired = self.history(after_sequence=3, instance_id=instance)
        self.assertTrue(expired[0].HasField("events_missed"))
        missed = expired[0].events_missed
        self.assertEqual((missed.reason, missed.first_missed, missed.last_missed),
                         (api.EventsMissed.HISTORY_EXPIRED, 4, 8))
        self.assertEqual([e.sequence for e in expired[1:]], list(range(9, 41)))
        say("after 3 with a 32-event history: EventsMissed HISTORY_EXPIRED 4..8, then 9..40")
        self.daemon.stop()
        self.daemon.start()
        self.stub = self.daemon.stub()
        after_restart = self.history(after_sequence=40, instance_id=instance)
        self.assertTrue(after_restart and after_restart[0].HasField("events_missed"))
        self.assertEqual(after_restart[0].events_missed.reason, api.EventsMissed.DAEMON_RESTARTED)
        say("resuming the old instance's numbers after a restart: DAEMON_RESTARTED")

    def test_a_thousand_creations_resume_and_a_slow_watcher(self):
        reader = Collector(self.stub)
        # Never read until the end, on a connection of its own whose flow-control window
        # stays at HTTP/2's 64 KiB (gRPC would otherwise grow it to hold everything).
        slow_channel = grpc.insecure_channel("unix:" + self.daemon.grpc_socket, options=[
            ("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0)])
        slow = api.VhostdStub(slow_channel).WatchEvents(api.WatchEventsRequest(follow=True))
        time.sleep(0.3)

        def create(i):
            # Client mode: a port without a listening socket takes one of lib/vhost's
            # 1023 descriptor slots (a server-mode port takes three).
            port = vhost_user_port("c%d" % i, socket_path="c%d.sock" % i, mode=api.VhostUserSpec.MODE_CLIENT)
            self.stub.CreatePort(api.CreatePortRequest(port=port), timeout=10)
        for i in range(10):
            create(i)
        # A client that disconnects after what it saw and resumes from there.
        first = Collector(self.stub, after_sequence=0)
        first.wait_for(lambda e: e.sequence == 10)
        first.close()
        seen = [e.sequence for e in first.events]
        for i in range(10, 20):
            create(i)
        resumed = Collector(self.stub, after_sequence=seen[-1], instance_id=first.events[0].instance_id)
        for i in range(20, 1000):
            create(i)
        reader.wait_for(lambda e: e.sequence == 1000, timeout=60)
        resumed.wait_for(lambda e: e.sequence == 1000, timeout=60)
        resumed.close()
        reader.close()
        self.assertEqual(seen + [e.sequence for e in resumed.events], list(range(1, 1001)))
        say("a client that disconnected after 10 events and resumed saw 1..1000 once each, in order")
        created = [e.port_created.port.name for e in reader.events if e.HasField("port_created")]
        self.assertEqual(created, ["c%d" % i for i in range(1000)])
        say("a follow watch received all 1000 port creations")
        # The watcher that read nothing fell more than the history (32) behind: after what
        # was already on its way (flow-control windows), a marker.
        marker = None
        for _ in range(1000):
            event = next(slow)
            if event.HasField("events_missed"):
                marker = event
                break
        self.assertIsNotNone(marker, "the slow watcher was never told it fell behind")
        self.assertEqual(marker.events_missed.reason, api.EventsMissed.SLOW_WATCHER)
        say("the watcher that never read was told it fell behind: %d..%d missed" % (
            marker.events_missed.first_missed, marker.events_missed.last_missed))
        slow.cancel()
        slow_channel.close()

    def test_vhostctl_events(self):
        for name in ("a", "b"):
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))
        lines = self.daemon.vhostctl("events").stdout.splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith("1 ") and "port-created a" in lines[0], lines)
        since = self.daemon.vhostctl("events", "--since", "1").stdout.splitlines()
        self.assertEqual(len(since), 1)
        self.assertIn("port-created b", since[0])
        as_json = [json.loads(line) for line in self.daemon.vhostctl("events", output="json").stdout.splitlines()]
        self.assertEqual([e["portCreated"]["port"]["name"] for e in as_json], ["a", "b"])
        follow = subprocess.Popen(self.daemon.vhostctl_argv("events", "--follow", "--since", "2"),
                                  stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            self.stub.DeletePort(api.DeletePortRequest(name="a"))
            line = follow.stdout.readline()
            self.assertTrue(line.startswith("3 ") and "port-deleted a" in line, line)
            say("vhostctl events --follow printed: " + line.strip())
        finally:
            follow.terminate()
            follow.wait(10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
