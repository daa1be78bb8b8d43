"""The vhostd image, built by deploy/build-image.sh from this tree's binaries, run with
podman the way the DaemonSet runs it (deploy/kubernetes/base: its host namespaces,
capabilities, read-only root, hostPath and emptyDir mounts, ConfigMap environment and
args, CPU and memory limits, the probes as `podman exec`), with the node's /run/vhostd,
/var/lib/vhostd and CNI directories redirected into a temporary directory:

  * the init container's command installs vhostd-cni (or says the image has none);
  * the daemon starts, polls on the CPU its entrypoint chose, and every probe passes;
  * vhostctl on the host creates a vhost-user port through the mounted socket directory,
    the example pod (examples/dpdk-testpmd-pod.yaml, in the image build-image.sh
    --testpmd makes, with its mounts) starts a testpmd net_virtio_user frontend on it
    from a device-info annotation, and packets cross a cross-connect to a second
    frontend and come back;
  * a vhost-kernel port lands in a network namespace of the host (setns with the
    DaemonSet's capabilities, /run/netns mount), served through /dev/net/tun;
  * /metrics answers on the node address and port the annotations name;
  * SIGTERM stops it cleanly, and a new container restores the ports from the state;
  * the entrypoint refuses a bad VHOSTD_POLLING_CORES naming it;
  * Podman containers on a vhostd-cni network (the plugin the init container installed)
    get their interfaces from this containerized daemon, ping each other and move a
    file intact (tests/cni/podman_test.py's scenario, tests/testlib/podman_cni.py).

Needs root, podman with runc and debootstrap (deploy/install-deps.sh); the first run
makes the Debian base (a few minutes, cached under /var/tmp/vhostd-image).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "testlib"))

import deployment_checks  # noqa: E402
import kustomize_tree  # noqa: E402
import manifest_checks  # noqa: E402
import podman_cni  # noqa: E402
import podman_from_pod  # noqa: E402
import vhostd_proc  # noqa: E402
from testpmd import Testpmd, virtio_user_vdev  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
KUBERNETES = os.path.join(ROOT, "deploy", "kubernetes")
IMAGE = "localhost/vhostd:test"
TESTPMD_IMAGE = "localhost/vhostd-testpmd:test"


def say(text):
    print(text, flush=True)


def podman(*args, check=True, timeout=120):
    result = subprocess.run(["podman"] + podman_from_pod.RUNC + list(args), capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError("podman %s: exit %d\n%s%s" % (" ".join(args[:3]), result.returncode, result.stdout,
                                                           result.stderr))
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("%s: not within %d s" % (what, timeout))


def why_not_runnable():
    if os.geteuid() != 0:
        return "needs root (rootful podman, debootstrap)"
    for tool in ("podman", "runc", "debootstrap", "dpdk-testpmd"):
        if not shutil.which(tool):
            return "%s is missing (deploy/install-deps.sh installs it)" % tool
    return None


def config_map_dir(workdir, name, data):
    """A ConfigMap as the kubelet mounts it: one file per key."""
    path = os.path.join(workdir, "configmap-" + name)
    os.makedirs(path, exist_ok=True)
    for key, value in data.items():
        with open(os.path.join(path, key), "w") as f:
            f.write(value)
    return path


def this_hosts_cpus():
    """The CPUs a static CPU manager would give a Guaranteed pod here: all of them."""
    return ",".join(map(str, sorted(os.sched_getaffinity(0))))


class Deployment:
    """The base's objects and the podman arguments of its containers on this host."""

    def __init__(self, workdir):
        objects = [d for f in kustomize_tree.plain_files(os.path.join(KUBERNETES, "base"))
                   for d in manifest_checks.load_documents(f)]
        self.ds = deployment_checks.daemonset(objects)
        self.pod = self.ds["spec"]["template"]["spec"]
        self.config_maps = {cm["metadata"]["name"]: cm.get("data") or {}
                            for cm in deployment_checks.find(objects, "ConfigMap")}
        self.host_dirs = {p: os.path.join(workdir, "node" + p.replace("/", "-"))
                          for p in ("/run/vhostd", "/var/lib/vhostd", "/opt/cni/bin", "/etc/cni/net.d")}
        self.volume_dirs = {}
        for volume in self.pod["volumes"]:
            if "configMap" in volume:
                self.volume_dirs[volume["name"]] = config_map_dir(
                    workdir, volume["configMap"]["name"], self.config_maps[volume["configMap"]["name"]])
        self.metrics_port = free_port()
        self.file_prefix = "img%d" % os.getpid()

    def node(self, path):
        """Where the node's path (e.g. /run/vhostd/vhostd.sock) is in this test."""
        for real, redirected in self.host_dirs.items():
            if path == real or path.startswith(real + "/"):
                return redirected + path[len(real):]
        return path

    def container(self, name):
        return next(c for c in self.pod.get("initContainers", []) + self.pod["containers"] if c["name"] == name)

    def run_args(self, container_name, podman_name, extra_env=None):
        config_env = self.config_maps["vhostd-config"]
        env = {"VHOSTD_METRICS_PORT": str(self.metrics_port),
               # The ConfigMap key for extra EAL arguments: a file prefix of this test's own.
               "VHOSTD_EAL_ARGS": (config_env.get("VHOSTD_EAL_ARGS", "") + " --file-prefix=" + self.file_prefix).strip()}
        env.update(extra_env or {})
        container = dict(self.container(container_name), image=IMAGE)  # the image under test
        return podman_from_pod.podman_run_args(
            self.pod, container, podman_name, self.config_maps, self.node, self.volume_dirs,
            {"status.podIP": "127.0.0.1"}, extra_env=env,
            cpuset=this_hosts_cpus())


class ExamplePod:
    """examples/dpdk-testpmd-pod.yaml run with podman as a kubelet would (its mounts,
    capabilities, limits, ConfigMap), with the downwardAPI annotations file Multus and the
    kubelet would give it: a network-status whose device-info names `socket_path`."""

    def __init__(self, deployment, workdir, socket_path):
        docs = manifest_checks.load_documents(os.path.join(KUBERNETES, "examples", "dpdk-testpmd-pod.yaml"))
        pod = deployment_checks.find(docs, "Pod")[0]
        config_maps = {cm["metadata"]["name"]: cm["data"] for cm in deployment_checks.find(docs, "ConfigMap")}
        status = [{"name": "default/vhost-user", "interface": "net1",
                   "device-info": {"type": "vhost-user", "version": "1.1.0",
                                   "vhost-user": {"mode": "client", "path": socket_path}}}]
        annotations = dict(pod["metadata"]["annotations"], **{"k8s.v1.cni.cncf.io/network-status": json.dumps(status)})
        volume_dirs = {}
        for volume in pod["spec"]["volumes"]:
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                volume_dirs[volume["name"]] = config_map_dir(workdir, name, config_maps[name])
            elif "downwardAPI" in volume:
                # The kubelet's format: key="value" per line, the value quoted like a Go string.
                text = "".join('%s=%s\n' % (k, json.dumps(v)) for k, v in sorted(annotations.items()))
                volume_dirs[volume["name"]] = config_map_dir(workdir, "downward-" + volume["name"],
                                                             {"annotations": text})
        self.name = "vhostd-example-pod-%d" % os.getpid()
        container = dict(pod["spec"]["containers"][0], image=TESTPMD_IMAGE)
        args = podman_from_pod.podman_run_args(pod["spec"], container, self.name, config_maps, deployment.node,
                                               volume_dirs, {}, extra_env={"STATS_PERIOD": "1"},
                                               cpuset=this_hosts_cpus())
        podman("rm", "-f", self.name, check=False)
        podman("run", "-d", *args)

    def logs(self):
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self):
        podman("rm", "-f", "-t", "5", self.name, check=False)


@unittest.skipIf(why_not_runnable(), "SKIP image test: %s" % why_not_runnable())
class ImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="vhostd-image-test.")
        started = time.time()
        say("building %s with deploy/build-image.sh from this tree's binaries, and %s (the first build makes "
            "each Debian base: minutes)" % (IMAGE, TESTPMD_IMAGE))
        build = subprocess.run([os.path.join(ROOT, "deploy", "build-image.sh"), "--tag", IMAGE, "--artifacts", ROOT],
                               capture_output=True, text=True, timeout=1200)
        if build.returncode != 0:
            raise AssertionError("build-image.sh failed:\n" + build.stdout[-3000:] + build.stderr[-3000:])
        build = subprocess.run([os.path.join(ROOT, "deploy", "build-image.sh"), "--testpmd", "--tag", TESTPMD_IMAGE],
                               capture_output=True, text=True, timeout=1200)
        if build.returncode != 0:
            raise AssertionError("build-image.sh --testpmd failed:\n" + build.stdout[-3000:] + build.stderr[-3000:])
        say("images built in %.0f s" % (time.time() - started))
        cls.deployment = Deployment(cls.workdir)
        cls.name = "vhostd-image-test-%d" % os.getpid()
        cls.netns = "vhostd-img%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", cls.netns], check=True)
        cls.start_daemon()

    @classmethod
    def start_daemon(cls):
        podman("rm", "-f", cls.name, check=False)
        args = cls.deployment.run_args("vhostd", cls.name)
        podman("run", "-d", *args)
        say("podman run -d " + " ".join(args))
        cls.socket = cls.deployment.node(deployment_checks.flag_value(
            cls.deployment.container("vhostd"), "--grpc-socket"))
        try:
            wait_for("the startup probe", lambda: cls.probe("startupProbe").returncode == 0, 90)
        except AssertionError:
            say(podman("logs", cls.name, check=False).stderr[-3000:])
            raise

    @classmethod
    def probe(cls, which):
        command = cls.deployment.container("vhostd")[which]["exec"]["command"]
        return podman("exec", cls.name, *command, check=False, timeout=30)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "name"):
            podman("rm", "-f", "-t", "5", cls.name, check=False)
        if hasattr(cls, "netns"):
            subprocess.run(["ip", "netns", "del", cls.netns], check=False)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def vhostctl(self, *args, check=True):
        argv = [vhostd_proc._repo_file("client/vhostctl"), "--server", "unix:" + self.socket] + list(args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and result.returncode != 0:
            raise AssertionError("vhostctl %s: %s%s" % (" ".join(args), result.stdout, result.stderr))
        return result

    def port(self, name):
        return json.loads(self.vhostctl("-o", "json", "port", "get", name).stdout)

    def stats(self, name):
        """vhostd's packet counters of a port: rx from its frontend, tx to it."""
        stats = json.loads(self.vhostctl("-o", "json", "port", "stats", name).stdout)
        return {"rx": int(stats.get("rxPackets", 0)), "tx": int(stats.get("txPackets", 0))}

    def logs(self):
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def test_1_init_container_installs_the_cni_plugin(self):
        args = self.deployment.run_args("install-cni", self.name + "-init")
        result = podman("run", "--rm", *args, check=False)
        installed = os.path.join(self.deployment.node("/opt/cni/bin"), "vhostd-cni")
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(installed, "rb") as a, open(os.path.join(ROOT, "client", "vhostd-cni"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertTrue(os.access(installed, os.X_OK))
        say("init container: installed vhostd-cni into the node's /opt/cni/bin")

    def test_2_daemon_polls_on_its_cpu_and_probes_pass(self):
        logs = self.logs()
        cpus = sorted(os.sched_getaffinity(0))
        polling = int(self.deployment.config_maps["vhostd-config"]["VHOSTD_POLLING_CORES"])
        expected = ",".join(map(str, cpus[-polling:]))
        self.assertIn("polling on CPUs %s (VHOSTD_POLLING_CORES=%d)" % (expected, polling), logs)
        self.assertIn("with %d polling core(s)" % polling, logs)
        for which in ("startupProbe", "readinessProbe", "livenessProbe"):
            result = self.probe(which)
            self.assertEqual((result.returncode, result.stdout), (0, "SERVING\n"), which + ": " + result.stderr)
        say("daemon in the container: polling on CPU %s, startup, readiness and liveness probes pass" % expected)

    def test_3_vhost_user_port_from_the_host_with_testpmd_traffic(self):
        self.vhostctl("port", "create", "pod0", "--type", "vhost-user", "--socket", "pod0.sock")
        self.vhostctl("port", "create", "peer0", "--type", "vhost-user", "--socket", "peer0.sock")
        self.vhostctl("xconnect", "create", "x0", "--ports", "pod0,peer0")
        in_container = self.port("pod0")["spec"]["socketPath"]
        pod_socket = self.deployment.node(in_container)
        self.assertTrue(os.path.exists(pod_socket), "the port's socket on the node: " + pod_socket)
        say("vhostctl on the host made pod0 at %s (the node's %s)" % (in_container, pod_socket))
        example = ExamplePod(self.deployment, self.workdir, in_container)
        try:
            wait_for("pod0's frontend", lambda: self.port("pod0")["status"]["state"] == "UP", 60)
            say("the example pod (%s) started testpmd on pod0 from its device-info: pod0 is UP" % TESTPMD_IMAGE)
            peer = self.deployment.node(self.port("peer0")["spec"]["socketPath"])
            with Testpmd([virtio_user_vdev(0, peer)], lcores="0,1", main_lcore=0,
                         file_prefix="imgpeer%d" % os.getpid()) as tp:
                wait_for("peer0's frontend", lambda: self.port("peer0")["status"]["state"] == "UP", 30)
                tp.set_fwd("txonly")
                tp.start_forwarding()
                # Until packets went both ways (the launcher's testpmd may still be starting).
                try:
                    wait_for("traffic both ways", lambda: min(self.stats("pod0").values()) > 0, 20)
                except AssertionError:
                    pass  # the assertions below say which direction is missing
                tp.stop_forwarding()
            pod, peer = self.stats("pod0"), self.stats("peer0")
            diagnostics = "\nexample pod:\n%s\npod0:\n%s" % (example.logs()[-3000:],
                                                           self.vhostctl("port", "get", "pod0").stdout)
            say("txonly on peer0: peer0 rx %d tx %d, pod0 tx %d rx %d (vhostd's counters)"
                % (peer["rx"], peer["tx"], pod["tx"], pod["rx"]))
            self.assertGreater(peer["rx"], 0, "vhostd received peer0's packets" + diagnostics)
            self.assertGreater(pod["tx"], 0, "and sent them over x0 to the launcher's testpmd on pod0" + diagnostics)
            self.assertGreater(pod["rx"], 0, "which sent them back (macswap)" + diagnostics)
            self.assertGreater(peer["tx"], 0, "and they reached peer0's frontend" + diagnostics)
        finally:
            example.remove()

    def test_4_vhost_kernel_port_in_a_host_namespace(self):
        self.vhostctl("port", "create", "vk0", "--type", "vhost-kernel", "--tap", "net1",
                      "--netns", "/run/netns/" + self.netns, "--allow-plain-tap")
        links = subprocess.run(["ip", "-n", self.netns, "-j", "link", "show", "net1"], capture_output=True, text=True)
        self.assertEqual(links.returncode, 0, links.stderr)
        self.assertEqual(self.port("vk0")["status"]["state"], "UP")
        say("vhost-kernel port vk0: tap net1 in the host's netns %s, made from the container" % self.netns)

    def test_5_metrics_on_the_annotated_port(self):
        annotations = self.deployment.ds["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        url = "http://127.0.0.1:%d%s" % (self.deployment.metrics_port, annotations["prometheus.io/path"])
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        self.assertIn('vhostd_port_up{port="pod0"', body)
        say("GET %s: %d bytes, vhostd_port_up for pod0" % (url, len(body)))

    def test_6_sigterm_then_restore_from_the_node_state(self):
        podman("stop", "-t", "20", self.name)
        code = podman("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip()
        self.assertEqual(code, "0", self.logs()[-2000:])
        self.assertIn("stopped", self.logs())
        self.assertFalse(os.path.exists(self.socket), "the API socket is removed at a clean stop")
        self.start_daemon()
        names = {p["name"] for p in json.loads(self.vhostctl("-o", "json", "port", "list").stdout).get("ports", [])}
        self.assertLessEqual({"pod0", "peer0", "vk0"}, names)
        say("SIGTERM: exit 0; a new container restored %s from the node's /var/lib/vhostd" % ", ".join(sorted(names)))

    def test_7_entrypoint_refuses_bad_polling_cores(self):
        for value, message in (("two", 'VHOSTD_POLLING_CORES: want a number of CPUs >= 1, got "two"'),
                               ("64", "VHOSTD_POLLING_CORES: 64 CPUs asked, the container has")):
            args = self.deployment.run_args("vhostd", self.name + "-bad", {"VHOSTD_POLLING_CORES": value})
            result = podman("run", "--rm", *args, check=False)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(message, result.stderr)
        say("entrypoint: VHOSTD_POLLING_CORES=two and =64 refused with exit 2, naming the variable")

    def test_8_podman_containers_get_interfaces_from_the_containerized_daemon(self):
        """tests/cni/podman_test.py's scenario, served by this container: Podman (a CNI
        caller of its own) runs the vhostd-cni the init container installed into the
        node's /opt/cni/bin, which asks the daemon in the image through the node's socket;
        the daemon puts the taps into the new containers' network namespaces through its
        /run/netns mount (HostToContainer: namespaces made after it started)."""
        if podman_cni.why_not_runnable():
            self.skipTest(podman_cni.why_not_runnable())
        installed = os.path.join(self.deployment.node("/opt/cni/bin"), "vhostd-cni")
        if not os.path.exists(installed):
            podman("run", "--rm", *self.deployment.run_args("install-cni", self.name + "-init8"))
        subnet = "10.%d.%d" % (70 + os.getpid() % 10, os.getpid() % 200 + 10)
        pc = podman_cni.PodmanCni(os.path.join(self.workdir, "podman-cni"), self.socket, installed, subnet)
        channel = grpc.insecure_channel("unix:" + self.socket)
        try:
            api = vhostd_proc.import_api()
            podman_cni.pods_ping_and_move_a_file(self, pc, api.VhostdStub(channel), api)
        finally:
            channel.close()
            pc.close()
        say("Podman containers got vhost-kernel interfaces from the daemon in the image; ping and 4 MiB intact")


if __name__ == "__main__":
    unittest.main(verbosity=2)
