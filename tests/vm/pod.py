#!/usr/bin/python3
"""VM <-> pod: a Linux guest on a vhost-user port, cross-connected to a vhost-kernel tap
in a network namespace (the pod). Ping, then 8 MiB over TCP each way with sha256 at
both ends; the guest keeps its default offloads, so vhostd completes the guest's
partial checksums for the tap. On a host without /dev/vhost-net the tap is served
through the explicit plain-tap fallback (reported, and checked in the port status).

With --peer uplink the other end is not a tap but an existing kernel interface: a veth
whose far end (eth1, the same address) sits in the namespace, attached to vhostd as an
uplink port (--uplink-mode: AF_PACKET or AF_XDP; the far end answers the guest's MAC,
so the uplink must take frames for MACs other than the interface's). vhostd then
completes the guest's checksums for a port that takes none.

    pod.py [--size-mb N] [--vhostd BIN] [--log-dir DIR] [--peer tap|uplink] [--uplink-mode af_packet|af_xdp]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTLIB = os.path.join(os.path.dirname(HERE), "testlib")
sys.path.insert(0, HERE)
sys.path.insert(0, TESTLIB)
import vmlib  # noqa: E402

SCENARIO = os.path.join(HERE, "guest_pod.sh")
TCP_PROBE = os.path.join(TESTLIB, "tcp_probe.py")
VM_MAC, POD_MAC = "52:54:00:00:00:01", "52:54:00:00:00:02"
VM_IP, POD_IP = "10.99.0.1", "10.99.0.2"


def sh(*argv, netns=None, **kw):
    if netns:
        argv = ("ip", "netns", "exec", netns) + argv
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def write_marker(share, name, text):
    path = os.path.join(share, name)
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def wait_marker(share, name, timeout):
    path = os.path.join(share, name)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError("guest never wrote %s" % name)
        time.sleep(0.1)
    return open(path).read().strip()


class PodSide:
    """The pod's end of both transfers, on a thread: receive, then send."""

    def __init__(self, netns, share, size, timeout):
        self.netns, self.share, self.size, self.timeout = netns, share, size, timeout
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def _probe(self, *args):
        return ["ip", "netns", "exec", self.netns, "/usr/bin/python3", TCP_PROBE] + [str(a) for a in args]

    def _run(self):
        try:
            recv = subprocess.Popen(self._probe("recv", POD_IP, 5001, self.timeout), stdout=subprocess.PIPE,
                                    text=True)
            if recv.stdout.readline().strip() != "listening":
                raise RuntimeError("the pod's receiver did not start")
            write_marker(self.share, "host.listen.vm-pod", "")
            n, sha = recv.communicate(timeout=self.timeout + 60)[0].split()
            write_marker(self.share, "host.rx.vm-pod", "%s %s" % (n, sha))
            wait_marker(self.share, "a.listen.pod-vm", self.timeout + 60)
            n, sha = subprocess.run(self._probe("send", VM_IP, 5002, self.size, self.timeout), check=True,
                                    capture_output=True, text=True, timeout=self.timeout + 30).stdout.split()
            write_marker(self.share, "host.tx.pod-vm", "%s %s" % (n, sha))
        except Exception as e:  # reported by run(); the guest then times out its checks
            self.error = "%s: %s" % (type(e).__name__, e)


def attach_tap(stub, api, netns):
    """The pod: a vhost-kernel tap eth1 in `netns`. Returns its backend."""
    from vhostd_proc import vhost_kernel_port
    vhost_net = os.path.exists("/dev/vhost-net")
    if not vhost_net:
        print("no /dev/vhost-net on this host: the pod's tap is served by the plain-tap fallback "
              "(vhost-net itself is covered by tests/lab)", file=sys.stderr)
    pod = stub.CreatePort(api.CreatePortRequest(port=vhost_kernel_port(
        "pod", tap_name="eth1", netns="/var/run/netns/" + netns, mac=POD_MAC, allow_plain_tap=not vhost_net)))
    return pod.status.backend


def attach_uplink(stub, api, netns, mode="af_packet"):
    """A veth: eth1 in `netns`, its host end attached as an uplink port in `mode`
    ("af_packet" or "af_xdp", explicit: no silent fallback). Returns its backend."""
    from vhostd_proc import typed_port
    host_end = "vmu%d" % (os.getpid() % 100000)
    sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth1")
    sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % host_end)
    sh("ip", "link", "set", "eth1", "netns", netns)
    sh("ip", "link", "set", "eth1", "address", POD_MAC, netns=netns)
    # The namespace's stack must checksum and segment itself: a veth does neither for
    # the socket on its other end (see plugins/uplink/uplink_test.py).
    sh("ethtool", "-K", "eth1", "tx", "off", "tso", "off", "gso", "off", netns=netns)
    sh("ethtool", "-K", host_end, "gro", "off", "tso", "off", "gso", "off")
    sh("ip", "link", "set", host_end, "up")
    port = stub.CreatePort(api.CreatePortRequest(port=typed_port(
        "pod", "uplink", api.UplinkSpec(interface=host_end, mode=api.UplinkSpec.Mode.Value("MODE_" + mode.upper())))))
    if port.status.backend != mode:
        raise RuntimeError("uplink port runs %r, not %r: %s" % (port.status.backend, mode, port.status.message))
    return port.status.backend


def run(size_mb, binary, log_dir, peer="tap", uplink_mode="af_packet"):
    from vhostd_proc import Vhostd, import_api, vhost_user_port
    api = import_api()
    work = tempfile.mkdtemp(prefix="vmpod.", dir="/tmp")
    log_dir = log_dir or os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.path.join(work, "logs")
    os.makedirs(log_dir, exist_ok=True)
    share = os.path.join(work, "share")
    os.makedirs(share)
    netns = "vmpod%d" % os.getpid()
    daemon = Vhostd(os.path.join(work, "vhostd"), file_prefix="vmpod%d" % os.getpid(),
                    extra_flags=["--metrics-address="])
    daemon.log_path = os.path.join(log_dir, "vhostd.log")
    if binary:
        daemon.argv[0] = os.path.abspath(binary)
    guest, errors = None, []
    try:
        sh("ip", "netns", "add", netns)
        sh("ip", "link", "set", "lo", "up", netns=netns)
        daemon.start()
        stub = daemon.stub()
        sock = os.path.join(daemon.socket_dir, "vm.sock")
        stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("vm", socket_path=sock)))
        if peer == "uplink":
            backend = attach_uplink(stub, api, netns, uplink_mode)
        else:
            backend = attach_tap(stub, api, netns)
        stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="vm-pod", port_a="vm", port_b="pod")))
        sh("ip", "addr", "add", POD_IP + "/24", "dev", "eth1", netns=netns)
        sh("ip", "link", "set", "eth1", "up", netns=netns)

        timeout = 90
        pod_side = PodSide(netns, share, size_mb << 20, timeout)
        pod_side.start()
        script = vmlib.scenario_script(SCENARIO, os.path.join(work, "guest_pod.sh"))
        env = {"VM_ROLE": "a", "VM_PEER": "pod", "VM_IP": VM_IP, "VM_PEER_IP": POD_IP, "VM_PEER_MAC": POD_MAC,
               "VM_SIZE_MB": size_mb, "VM_TCP_TIMEOUT": timeout, "VM_WAIT": 60}
        guest = vmlib.Guest("pod-vm", [script], log_dir, timeout=420, env={k: str(v) for k, v in env.items()},
                            qemu_args=vmlib.vhost_user_nic(sock, VM_MAC, 512) + vmlib.share_dir_args(share))
        guest.start()
        rc = guest.wait(450)
        pod_side.thread.join(5)
        if pod_side.error:
            errors.append("pod side: " + pod_side.error)
        r = guest.results()
        print("VM <-> %s over vhostd (backend: %s): guest rc=%s" % (peer, backend, rc))
        for x in r["ok"]:
            print("  ok   " + x)
        for x in r["fail"]:
            print("  FAIL " + x)
        for k, v in sorted(r["metrics"].items()):
            print("  metric %s = %s" % (k, v))
        if rc != 0 or r["fail"] or not r["ok"]:
            errors.append("guest checks failed (rc=%s)" % rc)
            print(guest.tail(30))
        if r["metrics"].get("a.tcp_in_csum_errors", 0):
            errors.append("the guest saw TCP checksum errors")
        print(daemon.vhostctl("port", "stats", "pod", check=False).stdout)
    finally:
        if guest is not None:
            guest.kill()
        daemon.stop()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    for e in errors:
        print("FAIL: " + e)
    return 0 if not errors else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=8)
    p.add_argument("--vhostd")
    p.add_argument("--log-dir")
    p.add_argument("--peer", choices=["tap", "uplink"], default="tap")
    p.add_argument("--uplink-mode", choices=["af_packet", "af_xdp"], default="af_packet")
    a = p.parse_args()
    vmlib.lab_setup()
    return run(a.size_mb, a.vhostd, a.log_dir, a.peer, a.uplink_mode)


if __name__ == "__main__":
    sys.exit(main())
