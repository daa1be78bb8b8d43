"""End to end: port labels (orchestrators' metadata) and ListPorts' label_selector,
through a real vhostd, vhostctl and a Python gRPC client: labels set on create come
back from Get and List, filter listings, survive a clean restart and a crash (the state
journal), and bad labels or selectors are refused naming the field, changing nothing.
"""

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testlib"))
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()

WEB0 = {"k8s.pod.name": "web-0", "k8s.pod.namespace": "prod", "cni.container_id": "c0ffee",
        "cni.ifname": "net1"}
WEB1 = {"k8s.pod.name": "web-1", "k8s.pod.namespace": "prod", "cni.ifname": "net1"}
DB0 = {"k8s.pod.name": "db-0", "k8s.pod.namespace": "dev", "example.com/tier": "backend"}


def labelled_port(name, labels):
    port = vhost_user_port(name, socket_path=name + ".sock")
    port.labels.update(labels)
    return port


class PortLabels(unittest.TestCase):
    def setUp(self):
        self.workdir = short_tmpdir("vhl")
        self.daemon = Vhostd(self.workdir, cores="1", extra_flags=["--metrics-address="])
        self.daemon.start()
        self.stub = self.daemon.stub()

    def tearDown(self):
        self.daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_three(self):
        """web0 through vhostctl --label, web1 and db0 through the Python client."""
        argv = ["port", "create", "web0", "--type", "vhost-user", "--socket-path", "web0.sock"]
        for key, value in WEB0.items():
            argv += ["--label", "%s=%s" % (key, value)]
        created = json.loads(self.daemon.vhostctl(*argv, output="json").stdout)
        self.assertEqual(created["labels"], WEB0)
        for name, labels in (("web1", WEB1), ("db0", DB0)):
            port = self.stub.CreatePort(api.CreatePortRequest(port=labelled_port(name, labels)))
            self.assertEqual(dict(port.labels), labels)

    def names(self, selector, page_size=0):
        """The ports ListPorts returns for SELECTOR, every page."""
        names, token = [], ""
        while True:
            response = self.stub.ListPorts(api.ListPortsRequest(label_selector=selector, page_size=page_size,
                                                                page_token=token))
            names += [p.name for p in response.ports]
            if not response.next_page_token:
                return names
            token = response.next_page_token

    def cli_names(self, selector):
        out = json.loads(self.daemon.vhostctl("port", "list", "-l", selector, output="json").stdout)
        return [p["name"] for p in out.get("ports", [])]

    def assert_labels(self):
        for name, labels in (("web0", WEB0), ("web1", WEB1), ("db0", DB0)):
            self.assertEqual(dict(self.stub.GetPort(api.GetPortRequest(name=name)).labels), labels, name)
        self.assertEqual(self.names("k8s.pod.namespace=prod"), ["web0", "web1"])

    def test_labels_are_returned_and_filter_listings(self):
        self.create_three()
        self.assert_labels()
        listed = {p.name: dict(p.labels) for p in self.stub.ListPorts(api.ListPortsRequest()).ports}
        self.assertEqual(listed, {"web0": WEB0, "web1": WEB1, "db0": DB0})
        cases = {
            "": ["db0", "web0", "web1"],
            "k8s.pod.name=web-0": ["web0"],
            "k8s.pod.name==web-1": ["web1"],
            "k8s.pod.namespace=prod, cni.ifname=net1": ["web0", "web1"],
            "k8s.pod.namespace=prod,k8s.pod.name!=web-0": ["web1"],
            "cni.container_id": ["web0"],
            "!cni.container_id": ["db0", "web1"],
            "example.com/tier=backend": ["db0"],
            "example.com/tier!=backend": ["web0", "web1"],
            "k8s.pod.namespace=staging": [],
        }
        for selector, expected in cases.items():
            self.assertEqual(self.names(selector), expected, selector)
        # Pages of a filtered listing hold only matching ports, and all of them.
        self.assertEqual(self.names("k8s.pod.namespace=prod", page_size=1), ["web0", "web1"])
        self.assertEqual(self.names("!cni.container_id", page_size=1), ["db0", "web1"])
        # vhostctl: -l filters; port get shows the labels.
        self.assertEqual(self.cli_names("k8s.pod.namespace=prod"), ["web0", "web1"])
        self.assertEqual(self.cli_names("example.com/tier"), ["db0"])
        table = self.daemon.vhostctl("port", "list", "-l", "k8s.pod.name=db-0").stdout
        self.assertIn("db0", table)
        self.assertNotIn("web0", table)
        details = self.daemon.vhostctl("port", "get", "web0").stdout
        self.assertIn("cni.container_id=c0ffee, cni.ifname=net1, k8s.pod.name=web-0, k8s.pod.namespace=prod",
                      details)

    def test_restart_and_crash_restore_labels(self):
        self.create_three()
        self.assertEqual(self.daemon.stop(), 0)
        with open(self.daemon.state_file) as f:
            stored = {p["name"]: p for p in json.load(f)["ports"]}
        self.assertEqual(stored["db0"]["labels"], DB0)
        self.daemon.start()
        self.stub = self.daemon.stub()
        self.assert_labels()
        # A crash: the journal alone holds the port created since the last snapshot.
        self.stub.CreatePort(api.CreatePortRequest(port=labelled_port("late", {"k8s.pod.name": "late-0"})))
        self.daemon.kill()
        self.daemon.start()
        self.stub = self.daemon.stub()
        self.assert_labels()
        self.assertEqual(self.names("k8s.pod.name=late-0"), ["late"])

    def assert_refused(self, call, code, prefix):
        with self.assertRaises(grpc.RpcError) as raised:
            call()
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        self.assertTrue(raised.exception.details().startswith(prefix), raised.exception.details())
        return raised.exception.details()

    def test_bad_labels_and_selectors_are_refused_naming_the_field(self):
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        create = lambda labels: lambda: self.stub.CreatePort(  # noqa: E731
            api.CreatePortRequest(port=labelled_port("bad", labels)))
        self.assert_refused(create({"a b": "v"}), invalid, 'port.labels["a b"]: ')
        self.assert_refused(create({"Upper.Example/x": "v"}), invalid, 'port.labels["Upper.Example/x"]: ')
        self.assert_refused(create({"app": "v" * 64}), invalid, 'port.labels["app"]: ')
        self.assert_refused(create({"app": "a,b"}), invalid, 'port.labels["app"]: ')
        self.assert_refused(create({"k%d" % i: "v" for i in range(65)}), invalid, "port.labels: 65 labels")
        # Client input is quoted, but only so much of it.
        details = self.assert_refused(create({"x" * 100000: "v"}), invalid, 'port.labels["xxx')
        self.assertLess(len(details), 500)
        # Nothing was created: no port, no socket, no state written.
        self.assertEqual(self.names(""), [])
        self.assertEqual(os.listdir(self.daemon.socket_dir), [])
        self.assertFalse(os.path.exists(self.daemon.state_file + ".journal")
                         and os.path.getsize(self.daemon.state_file + ".journal"))
        # A retry with other labels is not a retry.
        self.stub.CreatePort(api.CreatePortRequest(port=labelled_port("p", {"a": "1"})))
        self.stub.CreatePort(api.CreatePortRequest(port=labelled_port("p", {"a": "1"})))
        self.assert_refused(lambda: self.stub.CreatePort(api.CreatePortRequest(port=labelled_port("p", {"a": "2"}))),
                            grpc.StatusCode.ALREADY_EXISTS, "port.labels: ")
        self.assertEqual(dict(self.stub.GetPort(api.GetPortRequest(name="p")).labels), {"a": "1"})
        for selector in ("a=1,,b", "a b=1", "a=b=c", "a in (1,2)", "!", "=1", "x" * 5000):
            details = self.assert_refused(lambda: self.stub.ListPorts(api.ListPortsRequest(label_selector=selector)),
                                          invalid, "label_selector: ")
            self.assertLess(len(details), 500)
        # vhostctl: a malformed --label is a usage error; the daemon's refusals name the field.
        result = self.daemon.vhostctl("port", "create", "q", "--type", "vhost-user", "--label", "novalue",
                                      check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--label", result.stderr)
        result = self.daemon.vhostctl("port", "create", "q", "--type", "vhost-user", "--label", "a=1", "--label",
                                      "a=2", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        result = self.daemon.vhostctl("port", "create", "q", "--type", "vhost-user", "--label", "a b=1",
                                      check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn('INVALID_ARGUMENT: port.labels["a b"]', result.stderr)
        result = self.daemon.vhostctl("port", "list", "-l", "a=1,,b", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("INVALID_ARGUMENT: label_selector: term 2", result.stderr)
        self.assertEqual(self.names(""), ["p"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
