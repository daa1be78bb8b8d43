"""Capacity is explicit: one real vhostd with small limits, and every limit reached.

--max-ports and --max-queues-per-port refuse with RESOURCE_EXHAUSTED naming the limit and
change nothing; --max-message-bytes refuses a larger request; --max-concurrent-streams
holds a connection's extra calls while another connection is served; lib/vhost's
1024-descriptor set takes 341 server-mode ports, the next one is refused and the last one
accepted still takes a frontend; under a 1024 open-file limit (a container runtime's
default) the daemon says it serves at most 96 ports, and refuses the 97th naming why.
"""

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
sys.path.insert(0, HERE)
import vhost_user_client as vu  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()


def say(message):
    print("CHECK: " + message, flush=True)


class CapacityTest(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("cap")
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self, *flags):
        self.daemon = Vhostd(self.workdir, cores="1", file_prefix="cap%d" % os.getpid(),
                             extra_flags=["--metrics-address="] + list(flags))
        self.daemon.start()
        return self.daemon.stub()

    def create(self, stub, name, **fields):
        return stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock", **fields)),
                               timeout=5)

    def assert_exhausted(self, call, expect):
        with self.assertRaises(grpc.RpcError) as raised:
            call()
        self.assertEqual(raised.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, raised.exception.details())
        self.assertIn(expect, raised.exception.details())
        say("refused: " + raised.exception.details())

    def names(self, stub):
        return sorted(p.name for p in stub.ListPorts(api.ListPortsRequest(page_size=1000), timeout=5).ports)

    def state(self):
        """The state file and its journal, as they are on disk now."""
        files = (self.daemon.state_file, self.daemon.state_file + ".journal")
        contents = []
        for f in files:
            if os.path.exists(f):
                with open(f) as opened:
                    contents.append(opened.read())
            else:
                contents.append(None)
        return contents

    def test_ports_and_queues_beyond_their_limits(self):
        stub = self.start("--max-ports=3", "--max-queues-per-port=2")
        for i in range(3):
            self.create(stub, "p%d" % i, queues=2)
        state = self.state()
        self.assert_exhausted(lambda: self.create(stub, "p3"), "3 ports exist, the most this vhostd serves (--max-ports=3)")
        self.assertEqual(self.names(stub), ["p0", "p1", "p2"])
        self.assertEqual(self.state(), state)
        self.assertFalse(os.path.exists(os.path.join(self.daemon.socket_dir, "p3.sock")))
        stub.DeletePort(api.DeletePortRequest(name="p2"), timeout=5)
        self.assert_exhausted(lambda: self.create(stub, "p3", queues=3),
                              "port.spec.queues: 3 queues, more than this vhostd serves per port (--max-queues-per-port=2)")
        self.create(stub, "p3", queues=2)
        self.create(stub, "p3", queues=2)  # a retry of an existing port is no new port
        self.assertEqual(self.names(stub), ["p0", "p1", "p3"])

    def test_a_request_larger_than_max_message_bytes(self):
        stub = self.start("--max-message-bytes=65536")
        with self.assertRaises(grpc.RpcError) as raised:
            stub.ListPorts(api.ListPortsRequest(label_selector="a=" + "b" * 100000), timeout=5)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        say("a 100 kB request: %s" % raised.exception.details())
        stub.ListPorts(api.ListPortsRequest(label_selector="a=" + "b" * 60), timeout=5)

    def other_connection(self):
        # A local subchannel pool: gRPC would otherwise share one connection between channels.
        return grpc.insecure_channel("unix:" + self.daemon.grpc_socket, options=[("grpc.use_local_subchannel_pool", 1)])

    def test_concurrent_streams_per_connection(self):
        stub = self.start("--max-concurrent-streams=3", "--max-event-watchers=8")
        # From the start of the history (so the creation below is seen however late the
        # watch registers), with a deadline (so a lost event fails instead of hanging).
        watches = [stub.WatchEvents(api.WatchEventsRequest(follow=True, after_sequence=0), timeout=30)
                   for _ in range(3)]
        with self.other_connection() as other:
            self.create(api.VhostdStub(other), "p0")
        for w in watches:  # each is served: it delivers the port's creation
            self.assertTrue(next(w).HasField("port_created"))
        with self.assertRaises(grpc.RpcError) as raised:
            stub.ListPorts(api.ListPortsRequest(), timeout=1)  # the fourth stream waits for room
        self.assertEqual(raised.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        with self.other_connection() as other:  # another connection is served
            api.VhostdStub(other).ListPorts(api.ListPortsRequest(), timeout=2)
        watches[0].cancel()
        stub.ListPorts(api.ListPortsRequest(), timeout=2)
        say("3 streams on one connection: a 4th waited until one ended; another connection was served meanwhile")
        for w in watches[1:]:
            w.cancel()

    def test_lib_vhost_descriptor_set_is_counted(self):
        stub = self.start("--max-ports=400")
        started = time.time()
        created = 0
        while True:
            try:
                self.create(stub, "v%d" % created)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.details())
                self.assertIn("port.spec.socket_path: no room in lib/vhost's descriptor set (1023 of 1023", e.details())
                say("refused: " + e.details())
                break
            created += 1
            self.assertLess(created, 400, "every port was accepted")
        say("%d server-mode ports accepted in %.1f s" % (created, time.time() - started))
        self.assertEqual(created, 341)
        self.assertEqual(len(self.names(stub)), 341)
        mem = vu.GuestMemory(1 << 20)
        with vu.Frontend.connect(os.path.join(self.daemon.socket_dir, "v340.sock")) as fe:
            fe.handshake(mem)
            deadline = time.time() + 10
            while stub.GetPort(api.GetPortRequest(name="v340"), timeout=5).status.state != api.PortStatus.UP:
                self.assertLess(time.time(), deadline, "the last port accepted took no frontend")
                time.sleep(0.05)
        mem.close()
        stub.DeletePort(api.DeletePortRequest(name="v0"), timeout=5)
        self.create(stub, "again")

    def test_open_file_limit_too_low_for_max_ports(self):
        daemon = Vhostd(self.workdir, cores="1", file_prefix="cap%d" % os.getpid(),
                        extra_flags=["--metrics-address=", "--max-ports=256"])

        def low_limit():  # a container runtime's default
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        log = open(daemon.log_path, "ab")
        daemon.proc = subprocess.Popen(daemon.argv, preexec_fn=low_limit, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        log.close()
        self.daemon = daemon
        deadline = time.time() + 60
        while not (os.path.exists(daemon.grpc_socket) and daemon._healthy()):
            self.assertIsNone(daemon.proc.poll(), daemon.log_tail())
            self.assertLess(time.time(), deadline, "vhostd did not serve")
            time.sleep(0.05)
        self.assertIn("--max-ports: 256 ports need about 2304 open files, the limit (RLIMIT_NOFILE) is 1024: "
                      "serving at most 96 ports", daemon.log_tail())
        stub = daemon.stub()
        for i in range(96):
            self.create(stub, "f%d" % i)
        self.assert_exhausted(lambda: self.create(stub, "f96"),
                              "96 ports exist, the most this vhostd serves (--max-ports=256, lowered to 96 by "
                              "RLIMIT_NOFILE 1024)")

if __name__ == "__main__":
    unittest.main(verbosity=2)
