"""Podman 4.3 with its CNI backend as vhostd-cni's caller, against a vhostd run on the
host (tests/testlib/podman_cni.py: the set-up and the scenario). The same scenario runs
against the daemon from the image in tests/deploy/image_test.py.
"""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
import podman_cni  # noqa: E402
from vhostd_proc import Vhostd, _repo_file, import_api  # noqa: E402

api = import_api()
SUBNET = "10.%d.%d" % (80 + os.getpid() % 10, os.getpid() % 200 + 10)


class PodmanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if podman_cni.why_not_runnable():
            raise unittest.SkipTest(podman_cni.why_not_runnable())
        cls.workdir = tempfile.mkdtemp(prefix="cnipod", dir="/tmp")
        os.makedirs(os.path.join(cls.workdir, "vhostd"))
        cls.daemon = Vhostd(os.path.join(cls.workdir, "vhostd"), cores="1", extra_flags=["--metrics-address="])
        cls.daemon.start()
        cls.podman = podman_cni.PodmanCni(os.path.join(cls.workdir, "podman"), cls.daemon.grpc_socket,
                                          _repo_file("client/vhostd-cni"), SUBNET)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "podman"):
            cls.podman.close()
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_two_containers_ping_and_move_a_file(self):
        podman_cni.pods_ping_and_move_a_file(self, self.podman, self.daemon.stub(), api)


if __name__ == "__main__":
    unittest.main(verbosity=2)
