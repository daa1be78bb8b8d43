"""End to end: a real vhostd, driven by vhostctl and a Python gRPC client, forwarding
between two vhost-user ports fed by a real dpdk-testpmd (net_virtio_user frontends).

CPU plan on a 2-core machine: vhostd runs two polling cores, on CPUs 0 and 1 (as users
run it on a host with more CPUs; its control thread floats); testpmd forwards on CPU 0
(its main lcore sleeps on CPU 1). The CPUs are oversubscribed, which is fine for
correctness: the tests check that each rx queue is polled by exactly one core, not which.

Also the typed specs: each port type's plugin owns its spec and status messages, carried
as google.protobuf.Any; bad types and specs are refused naming the field; ListPlugins'
descriptors are enough for a client to build them; the state file keeps the ports of a
plugin that is not loaded, and a file of the format before typed specs is migrated.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import Testpmd, short_tmpdir, virtio_user_vdev  # noqa: E402
from vhostd_proc import Vhostd, assert_polled_once, import_api, spec_of, type_status_of, typed_port  # noqa: E402
from vhostd_proc import vdpa_port, vhost_kernel_port, vhost_user_port  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import any_pb2, descriptor_pool, json_format, message_factory  # noqa: E402

api = import_api()
SETTLE = 0.5  # seconds for the daemon's core to drain its rings after testpmd stops
POLL_CORES = "0-1"  # two polling cores (lcores 1 and 2)


def frontend(socket_paths, queues=1, server=False):
    """A testpmd with one virtio_user port per socket, io-forwarding port 0 <-> 1."""
    vdevs = [virtio_user_vdev(i, path, queues=queues, server=server) for i, path in enumerate(socket_paths)]
    return Testpmd(vdevs, lcores="1,0", main_lcore=1, rxq=queues, txq=queues, forward_mode="io")


def run_traffic(tp):
    tp.clear_stats()
    return tp.loop_and_drain(settle=SETTLE)


def port_stats(stub, name):
    return stub.GetPortStats(api.GetPortStatsRequest(name=name))


class VhostdEndToEnd(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("vhe")
        # No metrics endpoint: its fixed default port may be taken by another vhostd.
        self.daemon = Vhostd(self.workdir, cores=POLL_CORES, extra_flags=["--metrics-address="])
        self.default_plugin_dir = self.daemon.plugin_dir
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def sock(self, name):
        return os.path.join(self.daemon.socket_dir, name)

    def create_pair(self, queues=1, mode="server"):
        # One port through the CLI, one through the Python client: both reach the daemon.
        self.daemon.vhostctl("port", "create", "p0", "--type", "vhost-user", "--socket-path", "p0.sock",
                             "--mode", mode, "--queues", str(queues))
        port = vhost_user_port("p1", socket_path="p1.sock", queues=queues,
                               mode="MODE_CLIENT" if mode == "client" else "MODE_SERVER")
        self.stub.CreatePort(api.CreatePortRequest(port=port))
        self.daemon.vhostctl("xconnect", "create", "x01", "--ports", "p0,p1")

    def assert_counters_agree(self, tp_stats, queues=1, tp=None):
        """vhostd's per-port counters equal testpmd's, in both directions."""
        s0, s1 = port_stats(self.stub, "p0"), port_stats(self.stub, "p1")
        # testpmd port 0 sends into p0; vhostd forwards p0 -> p1 -> testpmd port 1.
        self.assertGreater(tp_stats[0]["tx_packets"], 1000)
        self.assertGreater(tp_stats[1]["tx_packets"], 1000)
        self.assertEqual(s0.rx_packets, tp_stats[0]["tx_packets"])
        self.assertEqual(s1.rx_packets, tp_stats[1]["tx_packets"])
        self.assertEqual(s1.tx_packets, tp_stats[1]["rx_packets"])
        self.assertEqual(s0.tx_packets, tp_stats[0]["rx_packets"])
        self.assertEqual(s0.rx_bytes, tp_stats[0]["tx_bytes"])
        self.assertEqual(s1.tx_bytes, tp_stats[1]["rx_bytes"])
        # Nothing forwarded was lost: received by vhostd = delivered + dropped.
        self.assertEqual(s0.rx_packets, s1.tx_packets + s1.tx_dropped)
        self.assertEqual(s1.rx_packets, s0.tx_packets + s0.tx_dropped)
        if tp is not None:
            # Per queue: testpmd's virtio_user per-queue xstats against vhostd's.
            for port_index, stats in ((0, s0), (1, s1)):
                tq = tp.queue_stats(port_index)
                for q in range(queues):
                    self.assertEqual(stats.queues[q].rx_packets, tq[q]["tx_good_packets"], (port_index, q))
                    self.assertEqual(stats.queues[q].tx_packets, tq[q]["rx_good_packets"], (port_index, q))
        return s0, s1

    def test_forwarding_reconnect_and_restart(self):
        self.create_pair()
        status = self.stub.GetPort(api.GetPortRequest(name="p0")).status
        self.assertEqual(status.state, api.PortStatus.WAITING_FOR_PEER)
        cores = self.stub.ListCores(api.ListCoresRequest()).cores
        self.assertEqual(len(cores), 2)
        self.assertEqual(sorted((q.port, q.forwards_to) for c in cores for q in c.queues),
                         [("p0", "p1"), ("p1", "p0")])

        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            port = self.stub.GetPort(api.GetPortRequest(name="p0"))
            self.assertEqual(port.status.state, api.PortStatus.UP)
            self.assertIn("VERSION_1", port.status.negotiated_feature_names)
            first = self.assert_counters_agree(run_traffic(tp), tp=tp)

        # The frontend went away: the port waits, counters stay (monotonic).
        deadline = time.time() + 10
        while self.stub.GetPort(api.GetPortRequest(name="p0")).status.state != api.PortStatus.WAITING_FOR_PEER:
            self.assertLess(time.time(), deadline, "p0 never noticed the frontend leaving")
            time.sleep(0.1)
        self.assertEqual(port_stats(self.stub, "p0").rx_packets, first[0].rx_packets)

        # A new frontend on the same sockets: traffic resumes.
        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            stats = run_traffic(tp)
            s0 = port_stats(self.stub, "p0")
            self.assertEqual(s0.rx_packets - first[0].rx_packets, stats[0]["tx_packets"])
            self.assertEqual(self.stub.GetPort(api.GetPortRequest(name="p0")).status.frontend_connects, 2)

        # kill -9 the daemon: ports and cross-connect come back from the state file.
        before = json.loads(self.daemon.vhostctl("port", "list", output="json").stdout)
        self.daemon.kill(signal.SIGKILL)
        self.daemon.start()
        self.stub = self.daemon.stub()
        after = json.loads(self.daemon.vhostctl("port", "list", output="json").stdout)
        self.assertEqual([(p["name"], p["type"], p["spec"]) for p in before["ports"]],
                         [(p["name"], p["type"], p["spec"]) for p in after["ports"]])
        self.assertEqual(after["ports"][0]["spec"]["@type"],
                         "type.googleapis.com/vhostd.plugins.vhost_user.v1.VhostUserSpec")
        xconnects = self.stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
        self.assertEqual([(x.name, x.port_a, x.port_b) for x in xconnects], [("x01", "p0", "p1")])
        with frontend([self.sock("p0.sock"), self.sock("p1.sock")]) as tp:
            self.assert_counters_agree(run_traffic(tp), tp=tp)

        # A clean stop removes the vhost-user sockets.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertFalse(os.path.exists(self.sock("p0.sock")))

    def test_multiqueue_client_mode_reconnects(self):
        # vhostd connects to sockets testpmd listens on (virtio_user server=1).
        self.create_pair(queues=2, mode="client")
        for attempt in range(2):  # the second round proves vhostd reconnected by itself
            with frontend([self.sock("p0.sock"), self.sock("p1.sock")], queues=2, server=True) as tp:
                deadline = time.time() + 15
                while any(self.stub.GetPort(api.GetPortRequest(name=n)).status.state != api.PortStatus.UP
                          for n in ("p0", "p1")):
                    self.assertLess(time.time(), deadline, "vhostd did not connect to the frontend")
                    time.sleep(0.1)
                before = (port_stats(self.stub, "p0"), port_stats(self.stub, "p1"))
                stats = run_traffic(tp)
                s0, s1 = port_stats(self.stub, "p0"), port_stats(self.stub, "p1")
                self.assertEqual(s0.rx_packets - before[0].rx_packets, stats[0]["tx_packets"])
                self.assertEqual(s1.tx_packets - before[1].tx_packets, stats[1]["rx_packets"])
                # Both queue pairs carry traffic and are polled.
                for q in range(2):
                    self.assertGreater(s0.queues[q].rx_packets - before[0].queues[q].rx_packets, 0, q)
                # Each rx queue of both ports is polled by exactly one of the two cores, and
                # the port status names that core.
                assert_polled_once(self, self.stub, {"p0": 2, "p1": 2})
                port = self.stub.GetPort(api.GetPortRequest(name="p0"))
                self.assertTrue(all(q.rx_enabled and q.tx_enabled for q in port.status.queues))

    def state_text(self):
        """The state file (the snapshot a clean stop leaves), or None."""
        try:
            with open(self.daemon.state_file) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def durable_state(self):
        """The snapshot and the journal of changes since: all that a restart reads."""
        parts = []
        for path in (self.daemon.state_file, self.daemon.state_file + ".journal"):
            try:
                with open(path) as f:
                    parts.append(f.read())
            except FileNotFoundError:
                parts.append(None)
        return parts

    def assert_refused(self, port, code, field):
        """CreatePort(PORT) fails with CODE and a message starting with FIELD."""
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.CreatePort(api.CreatePortRequest(port=port))
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        self.assertTrue(raised.exception.details().startswith(field), raised.exception.details())
        return raised.exception.details()

    def test_bad_requests_change_nothing(self):
        initial = self.durable_state()
        # The API socket is group-accessible only.
        self.assertEqual(os.stat(self.daemon.grpc_socket).st_mode & 0o777, 0o660)
        os.symlink("/tmp", os.path.join(self.daemon.socket_dir, "escape"))
        cases = [
            (["port", "create", "Bad_Name", "--type", "vhost-user", "--socket-path", "a.sock"], "port.name"),
            (["port", "create", "a", "--type", "vhost-user", "--socket-path", "/tmp/a.sock"], "port.spec.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket-path", "../a.sock"], "port.spec.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket-path", "escape/a.sock"],
             "port.spec.socket_path"),
            (["port", "create", "a", "--type", "vhost-user", "--socket-path", "a.sock", "--queues", "0"],
             "port.spec.queues"),
            (["port", "create", "a", "--type", "vhost-user", "--socket-path", "a.sock", "--queues", "4096"],
             "port.spec.queues"),
        ]
        for argv, field in cases:
            result = self.daemon.vhostctl(*argv, check=False)
            self.assertEqual(result.returncode, 1, argv)
            self.assertIn("INVALID_ARGUMENT", result.stderr, argv)
            self.assertIn(field, result.stderr, argv)
        self.assert_refused(vdpa_port("k", device="vdpa0"), grpc.StatusCode.NOT_FOUND, "port.spec.device")
        self.assert_nothing_changed(initial, ["escape"])

    def test_bad_types_and_specs_change_nothing(self):
        initial = self.durable_state()
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        # Neither a type nor a spec: nothing says which plugin.
        self.assert_refused(api.Port(name="nospec"), invalid, "port.type")
        # A type no plugin serves; the message lists the ones that are served.
        details = self.assert_refused(typed_port("u", "no-such-type"), invalid, "port.type")
        self.assertIn("vhost-user", details)
        # Another plugin's spec under type vhost-user: named, and what vhost-user takes.
        details = self.assert_refused(typed_port("m", "vhost-user", api.VdpaSpec(device="vdpa0")), invalid,
                                      "port.spec")
        self.assertIn("vhostd.plugins.vdpa.v1.VdpaSpec", details)
        self.assertIn("vhostd.plugins.vhost_user.v1.VhostUserSpec", details)
        # A spec whose message no plugin defines, with and without a type.
        unknown = any_pb2.Any(type_url="type.googleapis.com/vhostd.plugins.nosuch.v1.NoSuchSpec", value=b"\n\x01x")
        for port_type in ("vhost-user", ""):
            port = api.Port(name="n", type=port_type)
            port.spec.CopyFrom(unknown)
            self.assertIn("vhostd.plugins.nosuch.v1.NoSuchSpec", self.assert_refused(port, invalid, "port.spec"))
        # The right message name over bytes that are not that message.
        garbage = api.Port(name="g", type="vhost-user")
        garbage.spec.CopyFrom(any_pb2.Any(type_url=unknown.type_url.replace("nosuch.v1.NoSuchSpec",
                                                                            "vhost_user.v1.VhostUserSpec"),
                                          value=b"\xff\xff\xff"))
        self.assert_refused(garbage, invalid, "port.spec")
        self.assert_nothing_changed(initial, [])

    def assert_nothing_changed(self, state, socket_dir_entries):
        """No socket file, no port, no state change."""
        self.assertEqual(sorted(os.listdir(self.daemon.socket_dir)), socket_dir_entries)
        self.assertEqual(len(self.stub.ListPorts(api.ListPortsRequest()).ports), 0)
        self.assertEqual(self.durable_state(), state)

    def test_create_is_idempotent_and_delete_checks_cross_connects(self):
        # Idempotent create; a different spec under the same name is ALREADY_EXISTS.
        spec = vhost_user_port("a", socket_path="a.sock")
        first = self.stub.CreatePort(api.CreatePortRequest(port=spec))
        again = self.stub.CreatePort(api.CreatePortRequest(port=spec))
        self.assertEqual(spec_of(first), spec_of(again))
        self.assertEqual(spec_of(first).socket_path, self.sock("a.sock"))  # normalized: absolute
        self.assert_refused(vhost_user_port("a", socket_path="b.sock"), grpc.StatusCode.ALREADY_EXISTS, "")
        # Deleting a cross-connected port is refused until the cross-connect is gone.
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("b", socket_path="b.sock")))
        self.daemon.vhostctl("xconnect", "create", "ab", "--ports", "a,b")
        result = self.daemon.vhostctl("port", "delete", "a", check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("FAILED_PRECONDITION", result.stderr)
        self.daemon.vhostctl("xconnect", "delete", "ab")
        self.daemon.vhostctl("port", "delete", "a")
        self.assertFalse(os.path.exists(self.sock("a.sock")))
        result = self.daemon.vhostctl("port", "get", "a", check=False)
        self.assertIn("NOT_FOUND", result.stderr)

    def test_plugins_describe_their_messages(self):
        """A client with no plugin module compiled in builds, sends and reads specs and
        statuses from ListPlugins' descriptors alone (a fresh DescriptorPool)."""
        plugins = {p.port_type: p for p in self.stub.ListPlugins(api.ListPluginsRequest()).plugins}
        self.assertLessEqual({"vhost-user", "vhost-kernel", "vdpa"}, set(plugins))
        for plugin in plugins.values():
            pool = pool_from(plugin.descriptors)
            self.assertTrue(plugin.spec_type, plugin.port_type)
            pool.FindMessageTypeByName(plugin.spec_type)
            if plugin.status_type:
                pool.FindMessageTypeByName(plugin.status_type)
        vu = plugins["vhost-user"]
        self.assertEqual((vu.spec_type, vu.status_type),
                         ("vhostd.plugins.vhost_user.v1.VhostUserSpec", "vhostd.plugins.vhost_user.v1.VhostUserStatus"))
        pool = pool_from(vu.descriptors)
        spec_class, status_class = (message_class(pool, name) for name in (vu.spec_type, vu.status_type))
        self.assertIsNot(spec_class, api.VhostUserSpec)  # made from the descriptors, not the compiled module
        spec = spec_class(socket_path="dyn.sock", queues=2, tso=True)
        port = api.Port(name="dyn")  # no type: the spec's message names the plugin
        port.spec.Pack(spec)
        created = self.stub.CreatePort(api.CreatePortRequest(port=port))
        self.assertEqual(created.type, "vhost-user")
        back = spec_class()
        self.assertTrue(created.spec.Unpack(back))
        self.assertEqual((back.socket_path, back.queues, back.tso), (self.sock("dyn.sock"), 2, True))
        status = status_class()
        self.assertTrue(created.status.type_status.Unpack(status))
        self.assertEqual(status.frontend_connections, 0)
        # protobuf's JSON mapping of the whole port, Any included, from the same pool.
        printed = json.loads(json_format.MessageToJson(created, descriptor_pool=pool))
        self.assertEqual(printed["spec"]["@type"], "type.googleapis.com/" + vu.spec_type)
        self.assertEqual(printed["spec"]["socketPath"], self.sock("dyn.sock"))
        self.assertEqual(printed["status"]["typeStatus"]["@type"], "type.googleapis.com/" + vu.status_type)

    def test_state_keeps_ports_of_a_missing_plugin(self):
        if not os.path.exists("/dev/net/tun"):
            self.skipTest("no /dev/net/tun: a vhost-kernel port cannot be created here")
        tap = "vks%d" % (os.getpid() % 100000)
        kernel = vhost_kernel_port("k0", tap_name=tap, mtu=1400, mac="02:00:00:00:00:05", allow_plain_tap=True)
        for port in (kernel, vhost_user_port("u0", socket_path="u0.sock"),
                     vhost_user_port("u1", socket_path="u1.sock", queues=2)):
            self.stub.CreatePort(api.CreatePortRequest(port=port))
        self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
            cross_connect=api.CrossConnect(name="x01", port_a="u0", port_b="u1")))
        before = {p.name: (p.type, spec_of(p)) for p in self.stub.ListPorts(api.ListPortsRequest()).ports}
        self.assertIn("vhostd.plugins.vhost_kernel.v1.VhostKernelSpec", str(self.durable_state()))

        # Restart without the vhost-kernel plugin.
        self.restart(self.plugin_dir_without("vhost-kernel"))
        ports = {p.name: p for p in self.stub.ListPorts(api.ListPortsRequest()).ports}
        self.assertEqual(sorted(ports), ["k0", "u0", "u1"])
        self.assertEqual(ports["k0"].status.state, api.PortStatus.ERROR)
        self.assertIn("plugin vhost-kernel not loaded", ports["k0"].status.message)
        self.assertEqual(ports["k0"].type, "vhost-kernel")
        self.assertNotEqual(sh("ip", "link", "show", tap).returncode, 0, "no plugin, yet a tap")
        for name in ("u0", "u1"):  # the others are served
            self.assertEqual(ports[name].status.state, api.PortStatus.WAITING_FOR_PEER, name)
            self.assertEqual((ports[name].type, spec_of(ports[name])), before[name])
        self.assertTrue(os.path.exists(self.sock("u0.sock")))
        xconnects = self.stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
        self.assertEqual([(x.name, x.port_a, x.port_b) for x in xconnects], [("x01", "u0", "u1")])
        # New ports of a loaded type work; the missing type is unknown.
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("u2", socket_path="u2.sock")))
        self.assert_refused(vhost_kernel_port("k1", tap_name=tap + "b", allow_plain_tap=True),
                            grpc.StatusCode.INVALID_ARGUMENT, "port.type")
        # The snapshot this daemon writes at its clean stop still holds k0, with its Any.
        stored = self.stop_and_read_snapshot()
        self.assertEqual(sorted(stored), ["k0", "u0", "u1", "u2"])
        self.assertEqual(stored["k0"]["spec"]["@type"], "type.googleapis.com/vhostd.plugins.vhost_kernel.v1.VhostKernelSpec")

        # Restart with every plugin: k0 is back, with its spec, and its tap exists again.
        self.start_with(self.default_plugin_dir)
        ports = {p.name: p for p in self.stub.ListPorts(api.ListPortsRequest()).ports}
        self.assertEqual(sorted(ports), ["k0", "u0", "u1", "u2"])
        self.assertEqual((ports["k0"].type, spec_of(ports["k0"])), before["k0"])
        self.assertEqual(ports["k0"].status.state, api.PortStatus.UP, ports["k0"].status.message)
        self.assertEqual(type_status_of(ports["k0"]).interface, tap)
        self.assertEqual(sh("ip", "link", "show", tap).returncode, 0, "k0's tap did not come back")
        self.assertEqual(sorted(self.stop_and_read_snapshot()), ["k0", "u0", "u1", "u2"])

    def test_format_1_state_file_is_migrated(self):
        tap = "vkm%d" % (os.getpid() % 100000)
        self.daemon.stop()
        with open(self.daemon.state_file, "w") as f:
            json.dump(format_1_state(self.daemon.socket_dir, tap), f, indent=1)
        self.daemon.start()
        self.stub = self.daemon.stub()
        expected = {
            "k0": ("vhost-kernel", api.VhostKernelSpec(tap_name=tap, queues=1, mac="02:00:00:00:00:05", mtu=1400,
                                                       allow_plain_tap=True)),
            "u0": ("vhost-user", api.VhostUserSpec(socket_path=self.sock("u0.sock"), mode="MODE_CLIENT", queues=2,
                                                   tso=True, checksum=True)),
            "u1": ("vhost-user", api.VhostUserSpec(socket_path=self.sock("u1.sock"), mode="MODE_SERVER", queues=1,
                                                   checksum=False)),
        }
        for round_ in ("migrated", "rewritten"):
            ports = {p.name: p for p in self.stub.ListPorts(api.ListPortsRequest()).ports}
            self.assertEqual({n: (p.type, spec_of(p)) for n, p in ports.items()}, expected, round_)
            self.assertEqual(ports["k0"].status.state, api.PortStatus.UP, (round_, ports["k0"].status.message))
            self.assertEqual(ports["u1"].status.state, api.PortStatus.WAITING_FOR_PEER, round_)
            xconnects = self.stub.ListCrossConnects(api.ListCrossConnectsRequest()).cross_connects
            self.assertEqual([(x.name, x.port_a, x.port_b) for x in xconnects], [("x", "u0", "k0")], round_)
            # A change, then a clean stop: the daemon writes the file in its own format
            # (the Any, not format 1's key per type), and reads that back.
            self.stub.DeleteCrossConnect(api.DeleteCrossConnectRequest(name="x"))
            self.stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x", port_a="u0", port_b="k0")))
            stored = self.stop_and_read_snapshot()
            self.assertNotEqual(json.loads(self.state_text())["format_version"], 1)
            for port in stored.values():
                self.assertEqual(sorted(port), ["name", "spec", "type"], port)
                self.assertTrue(port["spec"]["@type"].startswith("type.googleapis.com/vhostd.plugins."), port)
            self.start_with(self.default_plugin_dir)

    # --- helpers of the state tests ---------------------------------------------------

    def restart(self, plugin_dir):
        self.assertEqual(self.daemon.stop(), 0)
        self.start_with(plugin_dir)

    def start_with(self, plugin_dir):
        self.daemon.set_plugin_dir(plugin_dir)
        self.daemon.start()
        self.stub = self.daemon.stub()

    def stop_and_read_snapshot(self):
        """Stops the daemon cleanly, which folds its journal into the snapshot; returns
        the snapshot's ports by name."""
        self.assertEqual(self.daemon.stop(), 0)
        journal = self.durable_state()[1]
        self.assertFalse(journal, "a clean stop left a journal: %r" % journal)
        return {p["name"]: p for p in json.loads(self.state_text())["ports"]}

    def plugin_dir_without(self, port_type):
        """A copy of the daemon's plugin directory without the plugin of PORT_TYPE (which
        ListPlugins names by file)."""
        plugins = self.stub.ListPlugins(api.ListPluginsRequest()).plugins
        left_out = [os.path.basename(p.file) for p in plugins if p.port_type == port_type]
        self.assertEqual(len(left_out), 1, [(p.port_type, p.file) for p in plugins])
        target = tempfile.mkdtemp(prefix="plugins.", dir=self.workdir)
        for name in os.listdir(self.default_plugin_dir):
            if name.endswith(".so") and name != left_out[0]:
                shutil.copy(os.path.join(self.default_plugin_dir, name), target)
        return target


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True)


def pool_from(descriptor_set):
    """A new DescriptorPool holding the files of DESCRIPTOR_SET, added imports first
    (whatever order they came in)."""
    pool = descriptor_pool.DescriptorPool()
    pending = {f.name: f for f in descriptor_set.file}
    added = set()
    while pending:
        ready = [f for f in pending.values() if all(d in added for d in f.dependency)]
        if not ready:
            raise AssertionError("descriptor set lacks imports: %s" % sorted(
                {d for f in pending.values() for d in f.dependency} - added - set(pending)))
        for f in ready:
            pool.Add(f)
            added.add(f.name)
            del pending[f.name]
    return pool


def message_class(pool, full_name):
    descriptor = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def format_1_state(socket_dir, tap):
    """A state file as vhostd wrote it before port types owned their specs (format 1:
    one key per type in each port), taken from such a daemon's output."""
    return {
        "format_version": 1,
        "ports": [
            {"name": "k0", "vhost_kernel": {"tap_name": tap, "queues": 1, "mac": "02:00:00:00:00:05", "mtu": 1400,
                                            "allow_plain_tap": True}},
            {"name": "u0", "vhost_user": {"socket_path": os.path.join(socket_dir, "u0.sock"), "mode": "MODE_CLIENT",
                                          "queues": 2, "tso": True, "checksum": True}},
            {"name": "u1", "vhost_user": {"socket_path": os.path.join(socket_dir, "u1.sock"), "mode": "MODE_SERVER",
                                          "queues": 1, "checksum": False}},
        ],
        "cross_connects": [{"name": "x", "port_a": "u0", "port_b": "k0"}],
    }


if __name__ == "__main__":
    unittest.main(verbosity=2)
