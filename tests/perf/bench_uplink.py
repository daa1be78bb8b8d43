#!/usr/bin/python3
"""Uplink benchmark: a vhost-user port cross-connected to an uplink on a veth, against
dpdk-testpmd io-forwarding between net_vhost and the same PMD on the same veth. One
alternating run: per round, per (PMD, frame size), vhostd then testpmd (or the reverse
on odd rounds), each sample from nothing.

      CPU 0: traffic testpmd (io)                      CPU 1: backend under test
   port0 net_virtio_user ── vhost-user socket ── vhost-user port ══╗
   port1 net_af_packet on bu1 ── veth ── bu0 ── uplink (PMD X) ════╝  (vhostd x-connect,
                                                                        or testpmd io fwd)

A fixed population (tx_first bursts) circulates; throughput is what the traffic side
receives per second on both ports over the window. Frames are broadcast (dst
ff:ff:ff:ff:ff:ff) so that no MAC filter is involved on either veth end. "1518-byte"
frames are 1514 bytes without FCS, the most a 1500-MTU veth carries.

    bench_uplink.py [--rounds N] [--seconds S] [--sizes 64,1514] [--pmds af_packet,af_xdp] [--out FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, vhost_vdev, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, typed_port, vhost_user_port  # noqa: E402

BACKEND_IF, TRAFFIC_IF = "bu0", "bu1"
TX_FIRST = 8  # bursts of 32 per stream: a population of 512
RING_SIZE = 1024  # the uplink plugin's rx/tx ring size (uplink_ethdev.h kRingSize)


def xsk_program():
    """The XDP program the uplink plugin gives net_af_xdp (libxdp's default XSK program
    as an object file), so that both sides run the same one; "" if there is none."""
    for d in (os.environ.get("LIBXDP_OBJECT_PATH", ""), "/usr/lib/x86_64-linux-gnu/bpf",
              "/usr/lib/aarch64-linux-gnu/bpf", "/usr/lib/bpf"):
        path = os.path.join(d, "xsk_def_xdp_prog.o")
        if d and os.access(path, os.R_OK):
            return path
    return ""


def pmd_vdev(pmd, extra=""):
    """The backend's vdev with the arguments the uplink plugin uses (plus `extra`)."""
    if pmd == "af_packet":
        args = "net_af_packet0,iface=%s,qpairs=1" % BACKEND_IF
    else:
        args = "net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % BACKEND_IF
        if xsk_program():
            args += ",xdp_prog=" + xsk_program()
    return args + ("," + extra if extra else "")


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def make_veth():
    sh("ip", "link", "del", BACKEND_IF, check=False)
    sh("ip", "link", "add", BACKEND_IF, "type", "veth", "peer", "name", TRAFFIC_IF)
    for dev in (BACKEND_IF, TRAFFIC_IF):
        sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
        sh("ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off")
        sh("ip", "link", "set", dev, "up")


def traffic(sock, size):
    return Testpmd([virtio_user_vdev(0, sock, queue_size=256), "net_af_packet1,iface=%s" % TRAFFIC_IF],
                   lcores="1,0", main_lcore=1, forward_mode="io", mem_mb=1024, total_num_mbufs=16384,
                   nb_cores=1, txpkts=size, extra_args=["--eth-peer=0,ff:ff:ff:ff:ff:ff",
                                                        "--eth-peer=1,ff:ff:ff:ff:ff:ff"])


def measure(tp, seconds):
    """Injects the population, then returns received packets per second on both ports."""
    tp.start_forwarding(tx_first=TX_FIRST)
    time.sleep(2)  # warm-up
    before = tp.port_stats()
    t0 = time.monotonic()
    time.sleep(seconds)
    after = tp.port_stats()
    elapsed = time.monotonic() - t0
    tp.stop_forwarding()
    return sum(after[p]["rx_packets"] - before[p]["rx_packets"] for p in (0, 1)) / elapsed


def sample_vhostd(pmd, size, seconds, work):
    api = import_api()
    daemon = Vhostd(os.path.join(work, "vhostd"), cores="1", extra_flags=["--metrics-address="])
    daemon.start()
    try:
        stub = daemon.stub()
        sock = os.path.join(daemon.socket_dir, "vm.sock")
        stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("vm", socket_path=sock)))
        mode = api.UplinkSpec.MODE_AF_XDP if pmd == "af_xdp" else api.UplinkSpec.MODE_AF_PACKET
        up = stub.CreatePort(api.CreatePortRequest(port=typed_port(
            "up", "uplink", api.UplinkSpec(interface=BACKEND_IF, mode=mode))))
        assert up.status.backend == pmd, up.status
        stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x", port_a="vm", port_b="up")))
        with traffic(sock, size) as tp:
            return measure(tp, seconds)
    finally:
        daemon.stop()
        shutil.rmtree(os.path.join(work, "vhostd"), ignore_errors=True)


def sample_testpmd(pmd, size, seconds, work):
    sock = os.path.join(work, "tp.sock")
    backend = Testpmd([vhost_vdev(0, sock), pmd_vdev(pmd)], lcores="0,1", main_lcore=0,
                      forward_mode="io", mem_mb=1024, total_num_mbufs=16384, nb_cores=1, rxd=RING_SIZE,
                      txd=RING_SIZE)
    with backend:
        backend.start_forwarding()
        with traffic(sock, size) as tp:
            return measure(tp, seconds)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--sizes", default="64,1514")
    p.add_argument("--pmds", default="af_packet,af_xdp")
    p.add_argument("--out")
    a = p.parse_args()
    work = short_tmpdir("bup")
    make_veth()
    results = {}
    try:
        for r in range(a.rounds):
            for pmd in a.pmds.split(","):
                for size in [int(s) for s in a.sizes.split(",")]:
                    order = [("vhostd", sample_vhostd), ("testpmd", sample_testpmd)]
                    for name, fn in (order if r % 2 == 0 else order[::-1]):
                        pps = fn(pmd, size, a.seconds, work)
                        results.setdefault((pmd, size, name), []).append(pps)
                        print("round %d %s %dB %s: %.3f Mpps" % (r, pmd, size, name, pps / 1e6), flush=True)
    finally:
        sh("ip", "link", "del", BACKEND_IF, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print("\n| PMD | frame | vhostd Mpps (median) | testpmd Mpps (median) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    table = []
    for pmd in a.pmds.split(","):
        for size in [int(s) for s in a.sizes.split(",")]:
            v = statistics.median(results[(pmd, size, "vhostd")])
            t = statistics.median(results[(pmd, size, "testpmd")])
            ratio = v / t if t else float("nan")
            table.append({"pmd": pmd, "size": size, "vhostd_mpps": v / 1e6, "testpmd_mpps": t / 1e6, "ratio": ratio})
            print("| %s | %d | %.3f | %.3f | %.3f |" % (pmd, size, v / 1e6, t / 1e6, ratio))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"rounds": a.rounds, "seconds": a.seconds, "results": table,
                       "samples": {"%s/%d/%s" % k: v for k, v in results.items()}}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
