"""Bridges end to end: a real vhostd, the real CLI, and three dpdk-testpmd frontends
(net_virtio_user, one per bridge port) that send counted bursts (txonly's frames, from
their own MAC address to a chosen one) and count what they receive (rxonly).

- learning, flooding of unknown unicast and of broadcast, no hair-pinning, the MAC
  table (vhostctl bridge macs), bridge counters in GetBridge, GetPortStats and /metrics;
- VLANs: two access ports of VLANs 10 and 20 and a trunk of both: isolation, tags added
  for the trunk (68-byte frames) and removed for access ports (64), a VLAN the trunk
  does not allow (here: untagged frames on the trunk) is dropped and counted;
- restart: bridges, membership and VLAN rules come back from the state file;
- bad input: errors that name the field, and nothing changed.
"""

import json
import os
import shutil
import signal
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()

BURST = 32
FRAME = 64  # testpmd txonly's frame length
MACS = {"pa": "02:00:00:00:0b:0a", "pb": "02:00:00:00:0b:0b", "pt": "02:00:00:00:0b:0c"}
BROADCAST = "ff:ff:ff:ff:ff:ff"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """A testpmd with one virtio_user port on a bridge port's socket, receiving all the
    time (rxonly) and sending a counted burst on request."""

    def __init__(self, name, socket_path):
        self.name = name
        self.mac = MACS[name]
        self.tp = Testpmd([virtio_user_vdev(0, socket_path, mac=self.mac)], lcores="1,0", main_lcore=1,
                          mem_mb=256, total_num_mbufs=2048, forward_mode="rxonly", burst=BURST)
        self.tp.start()
        self.tp.start_forwarding()

    def send(self, dst, bursts=1):
        self.tp.stop_forwarding()
        self.tp.cmd("set eth-peer 0 %s" % dst)
        self.tp.start_forwarding(tx_first=bursts)

    def mode(self, fwd):
        """rxonly, or macswap: send back every frame received with its addresses
        swapped and its bytes (a VLAN tag too) otherwise as they came. (testpmd's
        txonly cannot send tagged frames through net_virtio, which inserts tags only
        in tx_prepare, which txonly does not call.)"""
        self.tp.stop_forwarding()
        self.tp.set_fwd(fwd)
        self.tp.start_forwarding()

    def stats(self):
        return self.tp.port_stats(0)[0]

    def close(self):
        self.tp.close()


class BridgeTest(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("vbr")
        self.metrics_port = free_tcp_port()
        self.daemon = Vhostd(self.workdir, cores="0-1",
                             extra_flags=["--metrics-address=127.0.0.1:%d" % self.metrics_port])
        self.daemon.start()
        self.stub = self.daemon.stub()
        self.hosts = {}

    def tearDown(self):
        self.close_hosts()
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def create_ports(self, names=("pa", "pb", "pt")):
        for name in names:
            self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock")))

    def open_hosts(self):
        for name in ("pa", "pb", "pt"):
            self.hosts[name] = Host(name, os.path.join(self.daemon.socket_dir, name + ".sock"))
        self.wait_up()

    def close_hosts(self):
        for host in self.hosts.values():
            host.close()
        self.hosts = {}

    def wait_up(self):
        deadline = time.time() + 20
        for name in self.hosts:
            while self.stub.GetPort(api.GetPortRequest(name=name)).status.state != api.PortStatus.UP:
                self.assertLess(time.time(), deadline, "port %s never came up" % name)
                time.sleep(0.1)
        # The reconciler replans for the frontends' queues within a pass (1 s).
        time.sleep(1.5)

    def received(self):
        return {name: (s["rx_packets"], s["rx_bytes"]) for name, s in
                ((name, host.stats()) for name, host in self.hosts.items())}

    def send_and_expect(self, sender, dst, expected, frame_bytes=None):
        """`sender` sends one burst to `dst`; each host in `expected` receives that many
        more frames (of `frame_bytes` bytes each, if given: a number, or one per host),
        and no other host any."""
        before = self.received()
        sent_before = self.hosts[sender].stats()["tx_packets"]
        self.hosts[sender].send(dst)
        deadline = time.time() + 15
        while True:
            sent = self.hosts[sender].stats()["tx_packets"] - sent_before
            now = self.received()
            got = {name: now[name][0] - before[name][0] for name in now}
            if sent == BURST and all(got[name] >= count for name, count in expected.items()):
                break
            self.assertLess(time.time(), deadline, "sent %d, received %s, expected %s; bridge: %s" % (
                sent, got, expected, self.bridge()))
            time.sleep(0.1)
        time.sleep(0.5)  # nothing more arrives
        now = self.received()
        for name in self.hosts:
            count = expected.get(name, 0)
            self.assertEqual(now[name][0] - before[name][0], count, "%s received (from %s to %s)" % (name, sender, dst))
            size = frame_bytes.get(name) if isinstance(frame_bytes, dict) else frame_bytes
            if size is not None and count:
                self.assertEqual(now[name][1] - before[name][1], count * size, "%s's frame size" % name)

    def bridge(self, mac_table=False):
        return self.stub.GetBridge(api.GetBridgeRequest(name="br0", mac_table=mac_table))

    def port_counters(self, bridge):
        return {p.port: p.counters for p in bridge.ports}

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=10) as r:
            return r.read().decode()

    # ------------------------------------------------------------------ tests

    def test_learning_flooding_vlans_and_restart(self):
        self.create_ports()
        self.daemon.vhostctl("bridge", "create", "br0")
        for name in ("pa", "pb", "pt"):
            self.daemon.vhostctl("bridge", "add-port", "br0", name)
        cores = self.stub.ListCores(api.ListCoresRequest()).cores
        self.assertEqual(sorted((q.port, q.forwards_to) for c in cores for q in c.queues),
                         [("pa", "bridge:br0"), ("pb", "bridge:br0"), ("pt", "bridge:br0")])
        self.open_hosts()

        # Unknown unicast: flooded to both other ports; pa's address is learned.
        self.send_and_expect("pa", MACS["pb"], {"pb": BURST, "pt": BURST}, FRAME)
        counters = self.port_counters(self.bridge())
        self.assertEqual(counters["pa"].flooded, BURST)
        self.assertEqual(counters["pa"].learned, 1)
        # pb answers pa, now known: only pa gets it; then pa to pb, now known too.
        self.send_and_expect("pb", MACS["pa"], {"pa": BURST})
        self.send_and_expect("pa", MACS["pb"], {"pb": BURST})
        # Broadcast reaches everyone but the sender.
        self.send_and_expect("pt", BROADCAST, {"pa": BURST, "pb": BURST})
        # No hair-pinning: a frame for an address behind its own port goes nowhere.
        self.send_and_expect("pa", MACS["pa"], {})

        bridge = self.bridge(mac_table=True)
        self.assertEqual(sorted((e.mac, e.vlan, e.port) for e in bridge.mac_addresses),
                         [(MACS["pa"], 0, "pa"), (MACS["pb"], 0, "pb"), (MACS["pt"], 0, "pt")])
        for e in bridge.mac_addresses:
            self.assertLess(e.age_seconds, 60)
        counters = self.port_counters(bridge)
        self.assertEqual((counters["pa"].flooded, counters["pb"].flooded, counters["pt"].flooded), (BURST, 0, BURST))
        self.assertEqual(bridge.counters.flooded, 2 * BURST)
        self.assertEqual(bridge.counters.learned, 3)
        self.assertEqual(bridge.mac_entries, 3)
        macs_text = self.daemon.vhostctl("bridge", "macs", "br0").stdout
        self.assertIn(MACS["pb"], macs_text)
        as_json = json.loads(self.daemon.vhostctl("bridge", "macs", "br0", output="json").stdout)
        self.assertEqual(len(as_json["macAddresses"]), 3)
        # The same counters in GetPortStats and /metrics.
        stats = self.stub.GetPortStats(api.GetPortStatsRequest(name="pa"))
        self.assertEqual(stats.bridge, "br0")
        self.assertEqual(stats.bridge_counters.flooded, BURST)
        self.assertEqual(stats.tx_packets, 2 * BURST)  # from pb, and pt's broadcast
        text = self.metrics()
        self.assertIn('vhostd_bridge_port_flooded_total{bridge="br0",port="pa"} %d' % BURST, text)
        self.assertIn('vhostd_bridge_flooded_total{bridge="br0"} %d' % (2 * BURST), text)
        self.assertIn('vhostd_bridge_mac_entries{bridge="br0"} 3', text)

        # VLANs: the same ports, re-attached as access 10, access 20 and a trunk of both.
        for name in ("pa", "pb", "pt"):
            self.daemon.vhostctl("bridge", "del-port", "br0", name)
        self.assertEqual(self.bridge().mac_entries, 0, "leaving ports take their addresses along")
        self.daemon.vhostctl("bridge", "add-port", "br0", "pa", "--vlan", "10")
        self.daemon.vhostctl("bridge", "add-port", "br0", "pb", "--vlan", "20")
        self.daemon.vhostctl("bridge", "add-port", "br0", "pt", "--trunk", "10,20")
        time.sleep(0.5)
        # VLAN 10 reaches the trunk, tagged (4 bytes more), never the VLAN 20 port.
        self.send_and_expect("pa", BROADCAST, {"pt": BURST}, FRAME + 4)
        self.send_and_expect("pb", MACS["pa"], {"pt": BURST}, FRAME + 4)  # unknown on VLAN 20
        # Untagged frames on the trunk: dropped and counted.
        self.send_and_expect("pt", BROADCAST, {})
        self.assertEqual(self.port_counters(self.bridge())["pt"].vlan_dropped, BURST)
        # Tagged 20 from the trunk: the trunk's frontend sends pb's broadcast back (to
        # pb, source broadcast), still tagged; the bridge delivers it to pb untagged.
        self.hosts["pt"].mode("macswap")
        self.send_and_expect("pb", BROADCAST, {"pt": BURST, "pb": BURST}, {"pt": FRAME + 4, "pb": FRAME})
        self.hosts["pt"].mode("rxonly")
        macs = sorted((e.mac, e.vlan, e.port) for e in self.bridge(mac_table=True).mac_addresses)
        self.assertEqual(macs, [(MACS["pa"], 10, "pa"), (MACS["pb"], 20, "pb")])
        self.assertEqual(self.bridge().counters.vlan_dropped, BURST)

        # kill -9: the bridge, its ports and their VLAN rules come back from the state file.
        before = self.bridge()
        self.close_hosts()
        self.daemon.kill(signal.SIGKILL)
        self.daemon.start()
        self.stub = self.daemon.stub()
        after = self.bridge()
        self.assertEqual([(p.port, p.WhichOneof("vlan"), p.access_vlan, list(p.trunk.vlans)) for p in after.ports],
                         [(p.port, p.WhichOneof("vlan"), p.access_vlan, list(p.trunk.vlans)) for p in before.ports])
        self.assertEqual((after.mac_table_size, after.mac_aging_seconds), (2048, 300))
        self.open_hosts()
        self.send_and_expect("pa", BROADCAST, {"pt": BURST}, FRAME + 4)

    def test_bad_input_names_the_field_and_changes_nothing(self):
        self.create_ports(("pa", "pb", "pc", "px", "py"))
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0", mac_aging_seconds=60)))
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br1")))
        self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port="pa", access_vlan=10)))
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x1", port_a="px", port_b="py")))
        def saved():  # the snapshot (if written yet) and the journal
            return [open(p).read() if os.path.exists(p) else None
                    for p in (self.daemon.state_file, self.daemon.state_file + ".journal")]

        saved_before = saved()
        self.assertIsNotNone(saved_before[1])
        bridges_before = self.stub.ListBridges(api.ListBridgesRequest())

        def add(bridge, **port):
            return lambda: self.stub.AddBridgePort(api.AddBridgePortRequest(bridge=bridge, port=api.BridgePort(**port)))

        cases = [
            (add("br1", port="pa"), grpc.StatusCode.FAILED_PRECONDITION, "port.port: port pa is already in bridge br0"),
            (add("br0", port="pa", access_vlan=20), grpc.StatusCode.FAILED_PRECONDITION, "port.port"),
            (add("br0", port="px"), grpc.StatusCode.FAILED_PRECONDITION,
             "port.port: port px is already part of cross-connect x1"),
            (add("nope", port="pb"), grpc.StatusCode.NOT_FOUND, "bridge: bridge nope does not exist"),
            (add("br0", port="nope"), grpc.StatusCode.NOT_FOUND, "port.port: port nope does not exist"),
            (add("br0", port="pb", access_vlan=0), grpc.StatusCode.INVALID_ARGUMENT, "port.access_vlan: VLAN 0"),
            (add("br0", port="pb", access_vlan=4095), grpc.StatusCode.INVALID_ARGUMENT, "port.access_vlan: VLAN 4095"),
            (add("br0", port="pb", trunk=api.VlanTrunk(vlans=[10, 5000])), grpc.StatusCode.INVALID_ARGUMENT,
             "port.trunk.vlans[1]: VLAN 5000 is outside 1..4094"),
            (add("br0", port="pb", trunk=api.VlanTrunk()), grpc.StatusCode.INVALID_ARGUMENT, "port.trunk.vlans"),
            (add("br0", port="Bad_Name"), grpc.StatusCode.INVALID_ARGUMENT, "port.port"),
            (lambda: self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0"))),
             grpc.StatusCode.ALREADY_EXISTS, "bridge.name"),
            (lambda: self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br2", mac_table_size=1 << 21))),
             grpc.StatusCode.INVALID_ARGUMENT, "bridge.mac_table_size"),
            (lambda: self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br2", mac_aging_seconds=10**6))),
             grpc.StatusCode.INVALID_ARGUMENT, "bridge.mac_aging_seconds"),
            (lambda: self.stub.CreateBridge(api.CreateBridgeRequest(
                bridge=api.Bridge(name="br2", ports=[api.BridgePort(port="pb")]))),
             grpc.StatusCode.INVALID_ARGUMENT, "bridge.ports"),
            (lambda: self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x2", port_a="pb", port_b="pa"))),
             grpc.StatusCode.FAILED_PRECONDITION, "cross_connect.port_b: port pa is already in bridge br0"),
            (lambda: self.stub.DeletePort(api.DeletePortRequest(name="pa")), grpc.StatusCode.FAILED_PRECONDITION,
             "port pa is in bridge br0"),
            (lambda: self.stub.DeleteBridgePort(api.DeleteBridgePortRequest(bridge="br0", port="pb")),
             grpc.StatusCode.NOT_FOUND, "port: port pb is not in bridge br0"),
            (lambda: self.stub.GetBridge(api.GetBridgeRequest(name="nope")), grpc.StatusCode.NOT_FOUND, "nope"),
        ]
        for call, code, message in cases:
            with self.assertRaises(grpc.RpcError) as caught:
                call()
            self.assertEqual(caught.exception.code(), code, caught.exception.details())
            self.assertIn(message, caught.exception.details())
        # The CLI: a trunk list that is not one, and --vlan with --trunk.
        for args in (["--trunk", "10,x"], ["--trunk", "20-10"], ["--vlan", "ten"], ["--vlan", "10", "--trunk", "20"]):
            result = self.daemon.vhostctl("bridge", "add-port", "br0", "pb", *args, check=False)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("--", result.stderr)
        result = self.daemon.vhostctl("bridge", "add-port", "br0", "pb", "--vlan", "4095", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("port.access_vlan: VLAN 4095 is outside 1..4094", result.stderr)

        self.assertEqual(self.stub.ListBridges(api.ListBridgesRequest()), bridges_before)
        self.assertEqual(saved(), saved_before)
        # Retries are safe: the same port and rule again, the same bridge again.
        self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br0", port=api.BridgePort(port="pa", access_vlan=10)))
        self.stub.CreateBridge(api.CreateBridgeRequest(bridge=api.Bridge(name="br0", mac_aging_seconds=60)))
        self.assertEqual(self.stub.ListBridges(api.ListBridgesRequest()), bridges_before)
        # Deleting a bridge detaches its ports, which may then join another.
        self.daemon.vhostctl("bridge", "delete", "br0")
        self.stub.AddBridgePort(api.AddBridgePortRequest(bridge="br1", port=api.BridgePort(port="pa")))
        self.assertEqual([b.name for b in self.stub.ListBridges(api.ListBridgesRequest()).bridges], ["br1"])


if __name__ == "__main__":
    unittest.main()
