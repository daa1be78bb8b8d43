"""Podman 4.3 with its CNI backend as vhostd-cni's caller: two containers started with
--network on a vhostd network get their interfaces from vhostd-cni (vhost-kernel taps
in the containers' network namespaces, the plain-tap fallback where the host has no
/dev/vhost-net), cross-connected by vhostd; they ping each other and move a file whose
SHA-256 arrives intact. Removing the containers runs DEL: the ports and leases go.

Podman runs with a storage root, network config directory and plugin directory of the
test's own (CONTAINERS_CONF), so it touches nothing of the host's Podman set-up. The
image is a root filesystem with Debian's busybox, imported (no registry).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from vhostd_proc import Vhostd, _repo_file, import_api  # noqa: E402

api = import_api()
SUBNET = "10.%d.%d" % (80 + os.getpid() % 10, os.getpid() % 200 + 10)
RUN_FLAGS = ["--runtime=runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/vhostd-cni-test-bb:1"


class PodmanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
        missing += [p for p in ("/bin/busybox", "/usr/lib/cni/host-local") if not os.path.exists(p)]
        if missing:
            raise unittest.SkipTest("missing %s (deploy/install-deps.sh installs them)" % ", ".join(missing))
        cls.workdir = tempfile.mkdtemp(prefix="cnipod", dir="/tmp")
        os.makedirs(os.path.join(cls.workdir, "vhostd"))
        cls.daemon = Vhostd(os.path.join(cls.workdir, "vhostd"), cores="1", extra_flags=["--metrics-address="])
        cls.daemon.start()
        cls.setup_podman()

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "env"):
            cls.podman("rm", "-f", "-a", check=False)
            cls.podman("rmi", "-f", IMAGE, check=False)
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def setup_podman(cls):
        w = cls.workdir
        bin_dir, net_dir = os.path.join(w, "bin"), os.path.join(w, "net.d")
        os.makedirs(bin_dir)
        os.makedirs(net_dir)
        os.symlink(_repo_file("client/vhostd-cni"), os.path.join(bin_dir, "vhostd-cni"))
        cls.ipam_dir = os.path.join(w, "ipam")
        with open(os.path.join(w, "containers.conf"), "w") as f:
            f.write('[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n'
                    'network_config_dir = "%s"\n' % (bin_dir, net_dir))
        conflist = {"cniVersion": "1.0.0", "name": "vhostnet", "plugins": [{
            "type": "vhostd-cni", "server": "unix:" + cls.daemon.grpc_socket, "stateDir": os.path.join(w, "state"),
            "timeoutSeconds": 10, "portType": "vhost-kernel", "spec": {"allowPlainTap": True},
            "xconnect": {"name": "podpair"},
            "ipam": {"type": "host-local", "subnet": SUBNET + ".0/24", "dataDir": cls.ipam_dir}}]}
        with open(os.path.join(net_dir, "vhostnet.conflist"), "w") as f:
            json.dump(conflist, f)
        cls.env = dict(os.environ, CONTAINERS_CONF=os.path.join(w, "containers.conf"))
        cls.storage = ["--root", os.path.join(w, "root"), "--runroot", os.path.join(w, "runroot"),
                       "--storage-driver", "vfs", "--tmpdir", os.path.join(w, "tmp"), "--events-backend", "none",
                       "--cgroup-manager", "cgroupfs"]
        rootfs = os.path.join(w, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        os.makedirs(os.path.join(rootfs, "data"))
        shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "ip", "ping", "sleep", "cat", "httpd", "wget", "sha256sum", "ls"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        with subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            cls.podman("import", "-", IMAGE, stdin=tar.stdout)

    @classmethod
    def podman(cls, *args, check=True, stdin=None, timeout=120):
        proc = subprocess.run(["podman"] + cls.storage + list(args), env=cls.env, stdin=stdin,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError("podman %s: %d\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def leases(self):
        found = []
        for _, _, files in os.walk(self.ipam_dir):
            found += [f for f in files if f[0].isdigit()]
        return found

    def cni_ports(self):
        return [p.name for p in self.daemon.stub().ListPorts(api.ListPortsRequest(label_selector="cni.network=vhostnet")).ports]

    def address_of(self, container):
        out = self.podman("exec", container, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
        return out.split()[3].split("/")[0]

    def test_two_containers_ping_and_move_a_file(self):
        served, fetched = os.path.join(self.workdir, "srv"), os.path.join(self.workdir, "out")
        os.makedirs(served)
        os.makedirs(fetched)
        payload = os.urandom(4 << 20)
        expected = hashlib.sha256(payload).hexdigest()
        with open(os.path.join(served, "payload"), "wb") as f:
            f.write(payload)
        # pod-a serves the file over HTTP (busybox httpd); pod-b fetches it into its own volume.
        self.podman("run", "-d", "--name", "pod-a", "--network", "vhostnet", *RUN_FLAGS, "-v", served + ":/srv",
                    IMAGE, "httpd", "-f", "-p", "8080", "-h", "/srv")
        self.podman("run", "-d", "--name", "pod-b", "--network", "vhostnet", *RUN_FLAGS, "-v", fetched + ":/out",
                    IMAGE, "sleep", "300")
        self.assertEqual(len(self.cni_ports()), 2)
        xconnects = self.daemon.stub().ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
        self.assertEqual([x.name for x in xconnects], ["podpair"])
        self.assertEqual(len(self.leases()), 2)
        address_a, address_b = self.address_of("pod-a"), self.address_of("pod-b")
        self.assertTrue(address_a.startswith(SUBNET + ".") and address_b.startswith(SUBNET + "."))
        ping = self.podman("exec", "pod-b", "ping", "-c", "3", "-W", "2", address_a, check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        ping = self.podman("exec", "pod-a", "ping", "-c", "2", "-W", "2", address_b, check=False)
        self.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
        fetch = self.podman("exec", "pod-b", "wget", "-q", "-O", "/out/payload", "http://%s:8080/payload" % address_a,
                            check=False, timeout=120)
        self.assertEqual(fetch.returncode, 0, fetch.stdout + fetch.stderr)
        with open(os.path.join(fetched, "payload"), "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(payload))
        self.assertEqual(hashlib.sha256(got).hexdigest(), expected)
        # pod-b's own view of the file agrees.
        self.assertEqual(self.podman("exec", "pod-b", "sha256sum", "/out/payload").stdout.split()[0], expected)
        # Removing the containers runs DEL: ports, cross-connect and leases are gone.
        self.podman("rm", "-f", "pod-a", "pod-b")
        self.assertEqual(self.cni_ports(), [])
        self.assertEqual(list(self.daemon.stub().ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects), [])
        self.assertEqual(self.leases(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
