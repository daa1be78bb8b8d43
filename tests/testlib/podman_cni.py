"""Podman 4.3 with its CNI backend as vhostd-cni's caller, set up in a directory of the
test's own (storage root, containers.conf, network config and plugin directories), so it
touches nothing of the host's Podman set-up; the image is a root filesystem with
Debian's busybox, imported (no registry).

The scenario every caller runs (pods_ping_and_move_a_file): two containers started with
--network on a vhostd network get their interfaces from vhostd-cni (vhost-kernel taps in
the containers' network namespaces, the plain-tap fallback where the host has no
/dev/vhost-net), cross-connected by vhostd; they ping each other and move a file whose
SHA-256 arrives intact. Removing the containers runs DEL: the ports and leases go.
"""

import hashlib
import json
import os
import shutil
import subprocess

RUN_FLAGS = ["--runtime=runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE = "localhost/vhostd-cni-test-bb:1"
NETWORK = "vhostnet"


def why_not_runnable():
    """None, or what is missing for Podman with CNI here."""
    missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    missing += [p for p in ("/bin/busybox", "/usr/lib/cni/host-local") if not os.path.exists(p)]
    return "missing %s (deploy/install-deps.sh installs them)" % ", ".join(missing) if missing else None


class PodmanCni:
    """A private Podman whose network NETWORK is vhostd-cni (`cni_binary`) talking to the
    daemon at `grpc_socket`, with host-local addresses from `subnet` (a.b.c)."""

    def __init__(self, workdir, grpc_socket, cni_binary, subnet):
        self.workdir, self.subnet = workdir, subnet
        bin_dir, net_dir = os.path.join(workdir, "bin"), os.path.join(workdir, "net.d")
        os.makedirs(bin_dir)
        os.makedirs(net_dir)
        os.symlink(cni_binary, os.path.join(bin_dir, "vhostd-cni"))
        self.ipam_dir = os.path.join(workdir, "ipam")
        with open(os.path.join(workdir, "containers.conf"), "w") as f:
            f.write('[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n'
                    'network_config_dir = "%s"\n' % (bin_dir, net_dir))
        conflist = {"cniVersion": "1.0.0", "name": NETWORK, "plugins": [{
            "type": "vhostd-cni", "server": "unix:" + grpc_socket, "stateDir": os.path.join(workdir, "state"),
            "timeoutSeconds": 10, "portType": "vhost-kernel", "spec": {"allowPlainTap": True},
            "xconnect": {"name": "podpair"},
            "ipam": {"type": "host-local", "subnet": subnet + ".0/24", "dataDir": self.ipam_dir}}]}
        with open(os.path.join(net_dir, NETWORK + ".conflist"), "w") as f:
            json.dump(conflist, f)
        self.env = dict(os.environ, CONTAINERS_CONF=os.path.join(workdir, "containers.conf"))
        self.storage = ["--root", os.path.join(workdir, "root"), "--runroot", os.path.join(workdir, "runroot"),
                        "--storage-driver", "vfs", "--tmpdir", os.path.join(workdir, "tmp"), "--events-backend",
                        "none", "--cgroup-manager", "cgroupfs"]
        rootfs = os.path.join(workdir, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        os.makedirs(os.path.join(rootfs, "data"))
        shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "ip", "ping", "sleep", "cat", "httpd", "wget", "sha256sum", "ls"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        with subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            self.podman("import", "-", IMAGE, stdin=tar.stdout)

    def podman(self, *args, check=True, stdin=None, timeout=120):
        proc = subprocess.run(["podman"] + self.storage + list(args), env=self.env, stdin=stdin,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError("podman %s: %d\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def close(self):
        self.podman("rm", "-f", "-a", check=False)
        self.podman("rmi", "-f", IMAGE, check=False)

    def leases(self):
        found = []
        for _, _, files in os.walk(self.ipam_dir):
            found += [f for f in files if f[0].isdigit()]
        return found

    def address_of(self, container):
        out = self.podman("exec", container, "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
        return out.split()[3].split("/")[0]


def pods_ping_and_move_a_file(test, pc, stub, api):
    """The scenario of the module docstring, with `test`'s assertions; `stub` is the
    daemon's vhostd.v1 client."""
    def cni_ports():
        request = api.ListPortsRequest(label_selector="cni.network=" + NETWORK)
        return [p.name for p in stub.ListPorts(request).ports]

    served, fetched = os.path.join(pc.workdir, "srv"), os.path.join(pc.workdir, "out")
    os.makedirs(served)
    os.makedirs(fetched)
    payload = os.urandom(4 << 20)
    expected = hashlib.sha256(payload).hexdigest()
    with open(os.path.join(served, "payload"), "wb") as f:
        f.write(payload)
    # pod-a serves the file over HTTP (busybox httpd); pod-b fetches it into its own volume.
    pc.podman("run", "-d", "--name", "pod-a", "--network", NETWORK, *RUN_FLAGS, "-v", served + ":/srv",
              IMAGE, "httpd", "-f", "-p", "8080", "-h", "/srv")
    pc.podman("run", "-d", "--name", "pod-b", "--network", NETWORK, *RUN_FLAGS, "-v", fetched + ":/out",
              IMAGE, "sleep", "300")
    def podpair():  # the daemon may serve other cross-connects too
        return [sorted([x.port_a, x.port_b]) for x in stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
                if x.name == "podpair"]

    test.assertEqual(len(cni_ports()), 2)
    test.assertEqual(podpair(), [sorted(cni_ports())])
    test.assertEqual(len(pc.leases()), 2)
    address_a, address_b = pc.address_of("pod-a"), pc.address_of("pod-b")
    test.assertTrue(address_a.startswith(pc.subnet + ".") and address_b.startswith(pc.subnet + "."))
    ping = pc.podman("exec", "pod-b", "ping", "-c", "3", "-W", "2", address_a, check=False)
    test.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
    ping = pc.podman("exec", "pod-a", "ping", "-c", "2", "-W", "2", address_b, check=False)
    test.assertEqual(ping.returncode, 0, ping.stdout + ping.stderr)
    fetch = pc.podman("exec", "pod-b", "wget", "-q", "-O", "/out/payload", "http://%s:8080/payload" % address_a,
                      check=False, timeout=120)
    test.assertEqual(fetch.returncode, 0, fetch.stdout + fetch.stderr)
    with open(os.path.join(fetched, "payload"), "rb") as f:
        got = f.read()
    test.assertEqual(len(got), len(payload))
    test.assertEqual(hashlib.sha256(got).hexdigest(), expected)
    # pod-b's own view of the file agrees.
    test.assertEqual(pc.podman("exec", "pod-b", "sha256sum", "/out/payload").stdout.split()[0], expected)
    # Removing the containers runs DEL: ports, cross-connect and leases are gone.
    pc.podman("rm", "-f", "pod-a", "pod-b")
    test.assertEqual(cni_ports(), [])
    test.assertEqual(podpair(), [])
    test.assertEqual(pc.leases(), [])
    print("CHECK: two Podman containers on a vhostd-cni network pinged each other and moved 4 MiB intact; "
          "removing them ran DEL (no port, cross-connect or lease left)", flush=True)
