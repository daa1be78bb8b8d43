"""The frame of every hostile-frontend test: one real vhostd, a hostile frontend
(vhost_user_client.py) per case on port h0, and meanwhile a steady testpmd flow through
the cross-connected pair s0-s1.

run_case(attack, expect_error) checks: the daemon lives; h0's state and reason (ERROR
with what was wrong, in its status and in the event stream, or not); h0 takes a well-behaved frontend afterwards; another port
(spare) accepts a new frontend meanwhile; the API answers within its deadline; the s0-s1
flow lost no packet; the daemon's open fds, threads and mbufs in use are back to their
baseline.
"""

import os
import shutil
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
sys.path.insert(0, HERE)
import vhost_user_client as vu  # noqa: E402
from prometheus_server import free_port, scrape  # noqa: E402
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, type_status_of, vhost_user_port  # noqa: E402

api = import_api()
API_DEADLINE = 2.0  # seconds every call made here must answer within
FLOW_SECONDS = 1.5  # the steady flow runs at least this long per case


def say(message):
    print("CHECK: " + message, flush=True)


class HostilePortCase(unittest.TestCase):
    """Subclasses add test_* cases that call run_case()."""
    PREFIX = "hostile"
    @classmethod
    def setUpClass(cls):
        cls.workdir = short_tmpdir(cls.PREFIX)
        cls.metrics_port = free_port()
        cls.daemon = Vhostd(cls.workdir, cores="1", file_prefix="%s%d" % (cls.PREFIX, os.getpid()),
                            extra_flags=["--metrics-address=127.0.0.1:%d" % cls.metrics_port])
        cls.daemon.start()
        cls.stub = cls.daemon.stub()
        for name in ("s0", "s1", "h0", "h1", "spare"):
            cls.call("CreatePort", api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))
        # h0 is polled: its cross-connect partner h1 has no frontend (what h0 sends is dropped).
        for name, a, b in (("steady", "s0", "s1"), ("hostile", "h0", "h1")):
            cls.call("CreateCrossConnect", api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name=name, port_a=a, port_b=b)))
        cls.testpmd = Testpmd([virtio_user_vdev(i, cls.sock(n)) for i, n in enumerate(("s0", "s1"))],
                              lcores="1,0", main_lcore=1, forward_mode="io",
                              log_path=os.path.join(cls.workdir, "testpmd.log"))
        cls.testpmd.start()
        for name in ("s0", "s1"):
            cls.wait_state(name, api.PortStatus.UP)
        cls.testpmd.clear_stats()
        cls.baseline = cls.resources()
        cls.baseline_fds = cls.fd_targets()
        say("baseline: %d open fds, %d threads, %d mbufs in use" % cls.baseline)

    @classmethod
    def tearDownClass(cls):
        cls.testpmd.close()
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------

    @classmethod
    def sock(cls, name):
        return os.path.join(cls.daemon.socket_dir, name + ".sock")

    @classmethod
    def call(cls, method, request):
        started = time.time()
        reply = getattr(cls.stub, method)(request, timeout=API_DEADLINE)
        assert time.time() - started < API_DEADLINE
        return reply

    @classmethod
    def port(cls, name):
        return cls.call("GetPort", api.GetPortRequest(name=name))

    @classmethod
    def events_about(cls, port, after):
        """The retained events about `port` with a sequence above `after` (a non-follow
        watch ends once it sent them)."""
        request = api.WatchEventsRequest(after_sequence=after, port=port, follow=False)
        return [e for e in cls.stub.WatchEvents(request, timeout=API_DEADLINE) if e.sequence > after]

    @classmethod
    def last_sequence(cls):
        events = list(cls.stub.WatchEvents(api.WatchEventsRequest(after_sequence=0, follow=False),
                                           timeout=API_DEADLINE))
        return max([e.sequence for e in events], default=0)

    def assert_error_event(self, after, expect_error):
        """h0 went to ERROR in the event stream too, with the reason."""
        errors = [e.port_state_changed for e in self.events_about("h0", after)
                  if e.HasField("port_state_changed") and e.port_state_changed.new_state == api.PortStatus.ERROR]
        self.assertTrue(any(expect_error in e.message for e in errors),
                        "no PortStateChanged to ERROR with %r among %s" % (expect_error, errors))

    @classmethod
    def type_status(cls, name):
        return type_status_of(cls.port(name))

    @classmethod
    def wait_state(cls, name, state, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            port = cls.port(name)
            if port.status.state == state:
                return port
            if time.time() > deadline:
                raise AssertionError("%s is %s (%s), not %s" % (name, api.PortStatus.State.Name(port.status.state),
                                                                port.status.message, api.PortStatus.State.Name(state)))
            time.sleep(0.05)

    @classmethod
    def mbufs_in_use(cls):
        status, _, body = scrape("http://127.0.0.1:%d/metrics" % cls.metrics_port)
        assert status == 200, status
        for line in body.splitlines():
            if line.startswith("vhostd_mbufs_in_use "):
                return int(float(line.split()[1]))
        raise AssertionError("no vhostd_mbufs_in_use in /metrics")

    @classmethod
    def resources(cls):
        """(open fds, threads, mbufs in use). The scrape comes last: the daemon may hold
        its HTTP connection a moment after the reply, which must not count as a leak."""
        pid = cls.daemon.proc.pid
        return (vu.open_fds(pid), len(os.listdir("/proc/%d/task" % pid)), cls.mbufs_in_use())

    @classmethod
    def fd_targets(cls):
        fd_dir = "/proc/%d/fd" % cls.daemon.proc.pid
        targets = []
        for fd in os.listdir(fd_dir):
            try:
                targets.append(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                pass
        return sorted(targets)

    def assert_back_to_baseline(self):
        deadline = time.time() + 5
        while True:
            reading = self.resources()
            if reading == self.baseline or time.time() > deadline:
                break
            time.sleep(0.5)  # (lets the daemon close the scrape's connection)
        now = self.fd_targets()
        extra = [t for t in now if now.count(t) > self.baseline_fds.count(t)]
        extra += [line for t in extra if t.startswith("socket:[") for name in ("unix", "tcp", "tcp6")
                  for line in open("/proc/%d/net/%s" % (self.daemon.proc.pid, name))
                  if " %s " % t[8:-1] in line]
        self.assertEqual(reading, self.baseline, "open fds, threads, mbufs in use; new fds: %s" % extra)

    def good_frontend(self, name):
        """A well-behaved frontend brings `name` UP; returns it (and its memory) connected."""
        mem = vu.GuestMemory(1 << 20, name="good")
        fe = vu.Frontend.connect(self.sock(name))
        fe.handshake(mem)
        self.wait_state(name, api.PortStatus.UP)
        return fe, mem

    def run_case(self, attack, expect_error):
        """Runs `attack(hostile port's socket)` under the steady flow and checks everything
        the module docstring lists. expect_error: a substring of h0's ERROR message, or
        None if h0 must stay UP. Returns h0's status after the attack."""
        tp = self.testpmd
        before_flow = tp.port_stats()
        tp.start_forwarding(tx_first=4)
        started = time.time()
        before = type_status_of(self.port("h0"))
        sequence = self.last_sequence()
        attack()
        self.assertIsNone(self.daemon.proc.poll(), "vhostd died:\n" + self.daemon.log_tail())
        port = self.port("h0")
        if expect_error is not None:
            port = self.wait_state("h0", api.PortStatus.ERROR)
            self.assertIn(expect_error, port.status.message)
            say("h0 is ERROR: " + port.status.message)
            self.assert_error_event(sequence, expect_error)
        after = type_status_of(port)
        # Another port accepts a frontend meanwhile; the API lists everything.
        spare, spare_mem = self.good_frontend("spare")
        self.assertEqual(len(self.call("ListPorts", api.ListPortsRequest()).ports), 5)
        spare.close()
        spare_mem.close()
        self.wait_state("spare", api.PortStatus.WAITING_FOR_PEER)
        time.sleep(max(0.0, FLOW_SECONDS - (time.time() - started)))
        stats = self.testpmd.drain()
        sent = [stats[p]["tx_packets"] - before_flow[p]["tx_packets"] for p in (0, 1)]
        self.assertGreater(min(sent), 1000, stats)
        # Counted since the flow began (every reading is taken drained): what one side
        # sent, the other received.
        self.assertEqual(stats[0]["tx_packets"], stats[1]["rx_packets"], stats)
        self.assertEqual(stats[1]["tx_packets"], stats[0]["rx_packets"], stats)
        say("s0-s1 forwarded %d+%d packets without loss meanwhile" % tuple(sent))
        # h0 serves a well-behaved frontend again (which clears its error).
        good, good_mem = self.good_frontend("h0")
        self.assertEqual(self.port("h0").status.message, "")
        good.close()
        good_mem.close()
        self.wait_state("h0", api.PortStatus.WAITING_FOR_PEER)
        self.assert_back_to_baseline()
        return before, after
