"""vhostd-health's answers and exit codes against a stand-in health service (a Python
gRPC server on a unix socket answering grpc.health.v1.Health/Check as told), for the
states a real vhostd cannot be put in on demand; image_test runs it against the daemon.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent import futures

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testlib"))
import vhostd_proc  # noqa: E402

SERVING, NOT_SERVING = b"\x08\x01", b"\x08\x02"  # HealthCheckResponse{status}


class FakeHealth:
    def __init__(self, socket_path):
        self.answer, self.delay, self.requests = SERVING, 0.0, []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(self.check)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})])
        self.server.add_insecure_port("unix:" + socket_path)
        self.server.start()

    def check(self, request, context):
        self.requests.append(request)
        time.sleep(self.delay)
        return self.answer


class ProbeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.probe = vhostd_proc._repo_file("deploy/probe/vhostd-health")
        cls.dir = tempfile.TemporaryDirectory(prefix="probe")
        cls.socket = os.path.join(cls.dir.name, "api.sock")
        cls.fake = FakeHealth(cls.socket)

    @classmethod
    def tearDownClass(cls):
        cls.fake.server.stop(0)
        cls.dir.cleanup()

    def run_probe(self, *args):
        return subprocess.run([self.probe] + list(args), capture_output=True, text=True, timeout=30)

    def test_serving(self):
        self.fake.answer, self.fake.delay = SERVING, 0
        result = self.run_probe("--socket=" + self.socket)
        self.assertEqual((result.returncode, result.stdout), (0, "SERVING\n"))
        self.assertEqual(self.fake.requests[-1], b"", "asks for the server as a whole (service \"\")")

    def test_not_serving_fails_readiness_but_not_liveness(self):
        self.fake.answer, self.fake.delay = NOT_SERVING, 0
        result = self.run_probe("--socket=" + self.socket)
        self.assertEqual((result.returncode, result.stdout), (1, "NOT_SERVING\n"))
        result = self.run_probe("--socket=" + self.socket, "--live")
        self.assertEqual((result.returncode, result.stdout), (0, "NOT_SERVING\n"))

    def test_no_answer(self):
        result = self.run_probe("--socket=" + os.path.join(self.dir.name, "absent.sock"), "--timeout=1", "--live")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no answer from unix:", result.stderr)
        self.fake.answer, self.fake.delay = SERVING, 3
        started = time.monotonic()
        result = self.run_probe("--socket=" + self.socket, "--timeout=1")
        self.assertEqual(result.returncode, 2)
        self.assertLess(time.monotonic() - started, 2.9, "gives up at its deadline")
        self.assertIn("Deadline Exceeded", result.stderr)

    def test_bad_flags(self):
        for args, message in ((["--timeout=0"], "--timeout: must be 1..300 seconds"),
                              (["--socket=" + "x" * 120], "--socket: must be a path shorter than 108 bytes"),
                              (["extra"], "unexpected argument \"extra\"")):
            result = self.run_probe(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(message, result.stderr)
        self.assertNotEqual(self.run_probe("--bogus").returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
