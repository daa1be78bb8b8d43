"""Self-test of testpmd.py against real dpdk-testpmd processes.

  testpmd A (backend)                      testpmd B (driven through testpmd.py)
  net_vhost0,iface=a.sock  <----------->   net_virtio_user0,path=a.sock
  net_vhost1,iface=b.sock  <----------->   net_virtio_user1,path=b.sock
  io fwd 0<->1 on lcore 0                  io fwd 0<->1 on lcore 1, start tx_first

B injects one burst per port; A forwards 0->1 and 1->0, B forwards back, so the
packets circulate.  The test checks that packets crossed A in both directions
(B receives on both ports), that the parsers agree with each other (NIC stats,
per-queue xstats, forward stats) and that both processes quit cleanly and their
DPDK runtime directories are gone.

--mode server runs the same loop with B listening (virtio_user server=1) and A
connecting (net_vhost client=1).

Run: /usr/bin/python3 testpmd_selftest.py [--mode client|server] [--seconds N] [--keep]
"""

import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testpmd import (Testpmd, TestpmdError, dpdk_runtime_dir, short_tmpdir,  # noqa: E402
                     vhost_vdev, virtio_user_vdev, wait_for_sockets)

FAILURES = []


def check(cond, what):
    print("%s: %s" % ("ok  " if cond else "FAIL", what), flush=True)
    if not cond:
        FAILURES.append(what)


def run(mode, seconds, tmp):
    a_sock = os.path.join(tmp, "a.sock")
    b_sock = os.path.join(tmp, "b.sock")
    client = mode == "server"   # B is the vhost-user server, so A connects as a client
    backend = Testpmd([vhost_vdev(0, a_sock, client=client), vhost_vdev(1, b_sock, client=client)],
                      lcores="1,0", main_lcore=1, forward_mode="io", nb_cores=1,
                      log_path=os.path.join(tmp, "backend.log"))
    traffic = Testpmd([virtio_user_vdev(0, a_sock, server=client), virtio_user_vdev(1, b_sock, server=client)],
                      lcores="0,1", main_lcore=0, nb_cores=1,
                      log_path=os.path.join(tmp, "traffic.log"))
    prefixes = [backend.file_prefix, traffic.file_prefix]
    try:
        if mode == "client":
            backend.start(timeout=60)
            backend.start_forwarding()
            wait_for_sockets([a_sock, b_sock], 30, alive=backend.alive)
            traffic.start(timeout=60)
        else:
            traffic.start(wait=False)
            wait_for_sockets([a_sock], 30, alive=traffic.alive)
            backend.start(timeout=60)
            backend.start_forwarding()
            traffic.wait_ready(60)
        check(True, "both testpmds up (mode=%s, backend %s, traffic %s)"
              % (mode, backend.file_prefix, traffic.file_prefix))

        traffic.set_fwd("io")
        traffic.clear_stats()
        traffic.start_forwarding(tx_first=True)
        time.sleep(seconds)
        fwd = traffic.stop_forwarding()
        st = traffic.port_stats()
        q = {p: traffic.queue_stats(p) for p in (0, 1)}
        bst = backend.port_stats()
        bfwd = backend.stop_forwarding()

        for p in (0, 1):
            s = st.get(p, {})
            print("traffic port %d: rx %d pkts %d bytes, tx %d pkts %d bytes, rx_errors %d, tx_errors %d, "
                  "rx_dropped %d, fwd tx_dropped %d" % (
                      p, s.get("rx_packets", -1), s.get("rx_bytes", -1), s.get("tx_packets", -1),
                      s.get("tx_bytes", -1), s.get("rx_errors", -1), s.get("tx_errors", -1),
                      s.get("rx_dropped", -1), fwd.get(p, {}).get("tx_dropped", -1)))
            b = bst.get(p, {})
            print("backend port %d: rx %d, tx %d" % (p, b.get("rx_packets", -1), b.get("tx_packets", -1)))
        for p in (0, 1):
            s = st.get(p, {})
            check(s.get("rx_packets", 0) > 1000,
                  "traffic port %d received packets that crossed the backend (%d)" % (p, s.get("rx_packets", 0)))
            check(s.get("tx_packets", 0) > 1000, "traffic port %d sent packets (%d)" % (p, s.get("tx_packets", 0)))
            check(s.get("rx_errors", 1) == 0 and s.get("tx_errors", 1) == 0, "traffic port %d: no errors" % p)
            check(s.get("rx_bytes", 0) >= 60 * s.get("rx_packets", 1), "traffic port %d: bytes >= 60 * packets" % p)
            qs = q[p].get(0, {})
            check(qs.get("rx_good_packets") == s.get("rx_packets") and
                  qs.get("tx_good_packets") == s.get("tx_packets"),
                  "port %d xstats rx_q0/tx_q0_good_packets (%s/%s) match port stats"
                  % (p, qs.get("rx_good_packets"), qs.get("tx_good_packets")))
            check(fwd.get(p, {}).get("rx_packets") == s.get("rx_packets"),
                  "port %d forward stats RX (%s) match port stats" % (p, fwd.get(p, {}).get("rx_packets")))
            b = bst.get(p, {})
            check(b.get("rx_packets", 0) > 1000 and b.get("tx_packets", 0) > 1000,
                  "backend port %d forwarded (rx %d tx %d)" % (p, b.get("rx_packets", 0), b.get("tx_packets", 0)))
        # what the traffic side received on port 1 was sent by the backend on port 1, and so on
        check(st[1]["rx_packets"] <= bst[1]["tx_packets"] and st[0]["rx_packets"] <= bst[0]["tx_packets"],
              "traffic RX <= backend TX on each port")
        check(bst[0]["rx_packets"] <= st[0]["tx_packets"] and bst[1]["rx_packets"] <= st[1]["tx_packets"],
              "backend RX <= traffic TX on each port")
        check("all" in fwd and "all" in bfwd, "accumulated forward statistics parsed")
    finally:
        rc_t = traffic.close()
        rc_b = backend.close()
    check(rc_t == 0, "traffic testpmd quit cleanly (status %s)" % rc_t)
    check(rc_b == 0, "backend testpmd quit cleanly (status %s)" % rc_b)
    for pfx in prefixes:
        check(not os.path.exists(dpdk_runtime_dir(pfx)), "runtime dir %s removed" % dpdk_runtime_dir(pfx))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("client", "server"), default="client",
                    help="client: testpmd B connects to A's sockets (default); server: B listens")
    ap.add_argument("--seconds", type=float, default=2.0, help="forwarding time (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with both logs")
    args = ap.parse_args()
    tmp = short_tmpdir("tpselftest")
    try:
        run(args.mode, args.seconds, tmp)
    except TestpmdError as e:
        FAILURES.append(str(e))
        print("FAIL: %s" % e, flush=True)
    finally:
        if FAILURES or args.keep:
            for name in ("backend.log", "traffic.log"):
                path = os.path.join(tmp, name)
                if FAILURES and os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print("----- %s (last 40 lines)\n%s" % (name, "".join(f.readlines()[-40:])))
        if args.keep:
            print("logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("FAILED: %d check(s)" % len(FAILURES))
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
