"""vhostctl against a real vhostd: port create takes each type's flags from the daemon's
ListPlugins descriptors (no plugin message is compiled into vhostctl), and what it
prints (tables, protobuf JSON, the live views' JSON lines) agrees with what a Python
gRPC client, which has the plugins' generated modules, reads from the daemon.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", "vhostd"),
                                "tests", "testlib"))
from vhostd_proc import Vhostd, import_api, spec_of, type_status_of  # noqa: E402

from google.protobuf import json_format  # noqa: E402

api = import_api()
TYPE_URL = "type.googleapis.com/"


def have_tun():
    return os.path.exists("/dev/net/tun") and os.geteuid() == 0


class VhostctlAgainstVhostd(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="vhc", dir="/tmp")
        # No metrics endpoint: its fixed default port may be taken by another vhostd.
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=["--metrics-address="])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def ctl(self, *args, output="table", check=True):
        return self.daemon.vhostctl(*args, output=output, check=check)

    def get(self, name):
        return self.stub.GetPort(api.GetPortRequest(name=name))

    def plugin(self, port_type):
        for plugin in self.stub.ListPlugins(api.ListPluginsRequest()).plugins:
            if plugin.port_type == port_type:
                return plugin
        self.fail("the daemon has no plugin " + port_type)

    def port_names(self):
        return [p.name for p in self.stub.ListPorts(api.ListPortsRequest()).ports]

    # --- port create, one type after the other ----------------------------------------

    def test_vhost_user_by_flags(self):
        self.ctl("port", "create", "u0", "--type", "vhost-user", "--socket", "u0.sock", "--mode", "Client",
                 "--queues", "2", "--no-checksum", "--tso=false", "--no-mrg-rxbuf")
        spec = spec_of(self.get("u0"))
        self.assertEqual(spec.DESCRIPTOR.full_name, self.plugin("vhost-user").spec_type)
        self.assertEqual(spec.socket_path, os.path.join(self.daemon.socket_dir, "u0.sock"))
        self.assertEqual(spec.mode, spec.MODE_CLIENT)
        self.assertEqual(spec.queues, 2)
        self.assertTrue(spec.HasField("checksum"))
        self.assertFalse(spec.checksum)
        self.assertTrue(spec.disable_mrg_rxbuf)
        self.assertFalse(spec.tso)

    @unittest.skipUnless(have_tun(), "needs root and /dev/net/tun for a tap interface")
    def test_vhost_kernel_by_flags(self):
        # This host may lack /dev/vhost-net: --allow-plain-tap lets the port come up anyway.
        self.ctl("port", "create", "k0", "--type", "vhost-kernel", "--tap", "vhc-k0", "--mtu", "1400",
                 "--allow-plain-tap")
        try:
            port = self.get("k0")
            self.assertEqual(spec_of(port).tap_name, "vhc-k0")
            self.assertEqual(spec_of(port).mtu, 1400)
            self.assertEqual(type_status_of(port).interface, "vhc-k0")
            with open("/sys/class/net/vhc-k0/mtu") as f:
                self.assertEqual(f.read().strip(), "1400")
            out = self.ctl("port", "get", "k0").stdout
            self.assertIn("type status:          vhostd.plugins.vhost_kernel.v1.VhostKernelStatus\n"
                          "  interface:          vhc-k0\n", out)
        finally:
            self.ctl("port", "delete", "k0", check=False)

    def test_vdpa_error_names_the_spec_field(self):
        result = self.ctl("port", "create", "d0", "--type", "vdpa", "--device", "vhc-no-such-vdpa", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("port.spec.device", result.stderr)
        self.assertEqual(self.port_names(), [])

    def test_spec_json_with_flags_overriding(self):
        self.ctl("port", "create", "j0", "--type", "vhost-user", "--spec",
                 '{"socketPath": "j0.sock", "queues": 3, "mode": "MODE_CLIENT"}', "--queues", "2")
        spec = spec_of(self.get("j0"))
        self.assertEqual(spec.queues, 2)
        self.assertEqual(spec.mode, spec.MODE_CLIENT)
        self.assertTrue(spec.socket_path.endswith("/j0.sock"))

    def test_usage_errors_change_nothing(self):
        cases = [
            (["--type", "vhost-user", "--socket", "a.sock", "--tap", "t"], "unknown flag --tap for --type vhost-user"),
            (["--type", "vhost-user", "--socket", "a.sock", "--queues", "two"], "invalid value 'two' for --queues"),
            (["--type", "vhost-user", "--mode", "both"], "invalid value 'both' for --mode"),
            (["--type", "vhost-net"], "invalid value 'vhost-net' for --type: the daemon's port types are "),
            (["--type", "vdpa", "--spec", '{"devise": "x"}'], "--spec: not vhostd.plugins.vdpa.v1.VdpaSpec"),
        ]
        for extra, message in cases:
            result = self.ctl("port", "create", "e0", *extra, check=False)
            self.assertEqual(result.returncode, 2, (extra, result.stderr))
            self.assertIn(message, result.stderr)
        self.assertIn("vdpa, vhost-kernel, vhost-user", self.ctl("port", "create", "e0", "--type", "x",
                                                                 check=False).stderr)
        self.assertEqual(self.port_names(), [])

    def test_daemon_errors_name_the_spec_field(self):
        result = self.ctl("port", "create", "q0", "--type", "vhost-user", "--socket", "q0.sock", "--queues", "0",
                          check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("error: INVALID_ARGUMENT: port.spec.queues", result.stderr)

    def test_type_help_comes_from_the_daemon(self):
        result = self.ctl("port", "create", "--type", "vhost-user", "--help")
        plugin = self.plugin("vhost-user")
        self.assertTrue(result.stdout.startswith("--type vhost-user: " + plugin.description))
        self.assertIn("(fields of %s)" % plugin.spec_type, result.stdout)
        self.assertIn("  --socket-path, --socket PATH ", result.stdout)
        self.assertIn("  --mode server|client ", result.stdout)
        self.assertEqual(self.port_names(), [])

    # --- what vhostctl prints -----------------------------------------------------------

    def test_json_is_protobufs_mapping_of_the_plugin_messages(self):
        self.ctl("port", "create", "u1", "--type", "vhost-user", "--socket", "u1.sock", "--queues", "2")
        printed = json.loads(self.ctl("port", "get", "u1", output="json").stdout)
        port = self.get("u1")
        for field, message in (("spec", spec_of(port)), ("typeStatus", type_status_of(port))):
            holder = printed if field == "spec" else printed["status"]
            expected = json_format.MessageToDict(message, including_default_value_fields=True)
            expected["@type"] = TYPE_URL + message.DESCRIPTOR.full_name
            if not message.ByteSize():
                expected = {"@type": expected["@type"]}  # protobuf prints an empty Any so
            self.assertEqual(holder[field], expected)
        listed = json.loads(self.ctl("port", "list", output="json").stdout)
        self.assertEqual(listed["ports"][0]["spec"], printed["spec"])
        self.assertEqual(listed["nextPageToken"], "")
        plugins = json.loads(self.ctl("plugin", "list", output="json").stdout)
        self.assertIn("vhostd.plugins.vhost_user.v1.VhostUserSpec", [p["specType"] for p in plugins["plugins"]])

    def test_tables(self):
        self.ctl("port", "create", "u2", "--type", "vhost-user", "--socket", "u2.sock", "--mode", "client")
        listed = self.ctl("port", "list").stdout
        self.assertIn("u2     vhost-user   WAITING_FOR_PEER", listed)
        self.assertIn("socket_path=%s mode=MODE_CLIENT" % os.path.join(self.daemon.socket_dir, "u2.sock"), listed)
        shown = self.ctl("port", "get", "u2").stdout
        # Columns are as wide as the longest key (spec and status fields included).
        self.assertRegex(shown, r"\nspec: +vhostd\.plugins\.vhost_user\.v1\.VhostUserSpec\n")
        self.assertRegex(shown, r"\n  mode: +MODE_CLIENT\n")
        self.assertRegex(shown, r"\ntype status: +vhostd\.plugins\.vhost_user\.v1\.VhostUserStatus\n")
        self.assertRegex(shown, r"\n  refused_memory_tables: +0\n")

    def test_live_views_print_json_lines(self):
        self.ctl("port", "create", "u3", "--type", "vhost-user", "--socket", "u3.sock")
        lines = self.ctl("top", "--count", "2", "--interval", "0.1", output="json").stdout.splitlines()
        self.assertEqual(len(lines), 2)
        first, second = (json.loads(line) for line in lines)
        self.assertNotIn("elapsedSeconds", first)
        self.assertGreater(second["elapsedSeconds"], 0.05)
        self.assertEqual(second["portCount"], 1)
        self.assertEqual(second["ports"][0]["name"], "u3")
        self.assertEqual(second["ports"][0]["type"], "vhost-user")
        self.assertEqual(second["ports"][0]["rates"]["rxPps"], 0)
        lines = self.ctl("port", "stats", "u3", "--watch", "--count", "2", "--interval", "0.1",
                         output="json").stdout.splitlines()
        frames = [json.loads(line) for line in lines]
        self.assertEqual(frames[1]["stats"]["name"], "u3")
        self.assertEqual(frames[1]["total"]["txPps"], 0)
        self.assertNotIn("total", frames[0])

    def test_port_of_a_plugin_the_daemon_did_not_load(self):
        self.ctl("port", "create", "u4", "--type", "vhost-user", "--socket", "u4.sock")
        self.daemon.stop()
        partial = os.path.join(self.workdir, "plugins-without-vhost-user")
        os.makedirs(partial)
        for name in os.listdir(self.daemon.plugin_dir):
            if "vhost_user" not in name:
                shutil.copy(os.path.join(self.daemon.plugin_dir, name), partial)
        self.daemon.set_plugin_dir(partial)
        self.daemon.start()
        self.stub = self.daemon.stub()
        listed = self.ctl("port", "list").stdout
        self.assertRegex(listed, r"u4 +vhost-user +ERROR +- +-\n")
        shown = self.ctl("port", "get", "u4").stdout
        self.assertIn("plugin vhost-user not loaded", shown)
        result = self.ctl("port", "get", "u4", output="json")
        printed = json.loads(result.stdout)
        self.assertEqual(printed["status"]["state"], "ERROR")
        if self.get("u4").HasField("spec"):
            # The stored spec, which no loaded plugin describes: its type, not its fields.
            self.assertIn("spec:                 vhostd.plugins.vhost_user.v1.VhostUserSpec (not shown: no "
                          "plugin of the daemon describes vhostd.plugins.vhost_user.v1.VhostUserSpec)\n", shown)
            self.assertEqual(printed["spec"], {"@type": TYPE_URL + "vhostd.plugins.vhost_user.v1.VhostUserSpec"})
            self.assertIn("warning: vhostd.plugins.vhost_user.v1.VhostUserSpec is not described", result.stderr)
        else:
            # This daemon leaves the spec of such a port out of its answers.
            self.assertIn("spec:                 - (the type's defaults)\n", shown)
            self.assertNotIn("spec", printed)
            self.assertEqual(result.stderr, "")
        result = self.ctl("port", "create", "u5", "--type", "vhost-user", check=False)
        self.assertEqual(result.returncode, 2)
        # The loaded types are listed, the missing one is not.
        listed = result.stderr.split("the daemon's port types are ", 1)[1].split("\n", 1)[0].split(", ")
        self.assertIn("vhost-kernel", listed)
        self.assertNotIn("vhost-user", listed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
