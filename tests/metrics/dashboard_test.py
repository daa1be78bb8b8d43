"""deploy/grafana/vhostd-dashboard.json against the daemon it is meant for.

Checks that the dashboard is valid JSON in Grafana's schema (36+) with a ${DS_PROMETHEUS}
data source variable and label_values() variables for port and lcore; that every
PromQL expression parses (promtool check rules), names only metrics a live daemon
exports (its # HELP lines) and only labels those metrics carry; and that a real
Prometheus scraping that daemon returns data for every expression.

Run: bazel test //tests/metrics:dashboard_test, or directly with /usr/bin/python3 after
bazel build //server:vhostd //client:vhostctl //proto:vhostd_py //plugins:all_py.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from prometheus_server import PrometheusServer, free_port, scrape  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, VhostdError, import_api, vhost_user_port  # noqa: E402

import grpc  # noqa: E402

api = import_api()
DASHBOARD = "deploy/grafana/vhostd-dashboard.json"
DATASOURCE_UID = "${DS_PROMETHEUS}"
# Labels Prometheus adds to every scraped series; the daemon does not export them.
TARGET_LABELS = {"instance", "job"}
# What Grafana puts in place of its variables, for checking and evaluating expressions.
VARIABLES = {"$__rate_interval": "10s", "$__interval": "10s", "$__range": "1m",
             "$instance": ".*", "$port": ".*", "$lcore": ".*"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan", "atan2"}


def say(message):
    print("CHECK: " + message, flush=True)


def dashboard_path():
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        path = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "vhostd"), DASHBOARD)
        if os.path.exists(path):
            return path
    return os.path.join(HERE, "..", "..", DASHBOARD)


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def substitute(expr):
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    assert "$" not in expr, "unknown Grafana variable in " + expr
    return expr


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def metric_names(expr):
    """Metric names an expression selects: identifiers that are not functions, keywords,
    label names (inside {...} or by/without/on/ignoring/group_x (...)) or durations."""
    e = strip_strings(expr)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    names = set()
    for m in re.finditer(r"(?<![0-9.])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def label_names(expr):
    """Label names an expression matches on or aggregates by."""
    e = strip_strings(expr)
    labels = set()
    for block in re.findall(r"\{([^}]*)\}", e):
        labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    for block in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", e):
        labels.update(x.strip() for x in block.split(",") if x.strip())
    return labels


def dashboard_expressions(dashboard):
    """[(where, expr, label or None)]: panel targets, and the selector of each label_values()
    variable with the label it lists."""
    out = []
    for panel in all_panels(dashboard["panels"]):
        for t in panel.get("targets", []):
            out.append(("panel %r target %s" % (panel["title"], t["refId"]), t["expr"], None))
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.match(r"^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$", query)
        assert m, "variable %s: not label_values(selector, label): %s" % (var["name"], query)
        out.append(("variable $%s" % var["name"], m.group(1), m.group(2)))
    return out


def exported_labels(exposition):
    """{sample name: set of label names} of a scrape, with each # HELP family present
    (histogram and summary families under their _bucket/_count/_sum names too)."""
    helps, types, labels = set(), {}, {}
    for line in exposition.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ?(\S*)", line)
        if m:
            if m.group(1) == "HELP":
                helps.add(m.group(2))
            else:
                types[m.group(2)] = m.group(3)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s", line)
        if m:
            found = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or "")
            labels.setdefault(m.group(1), set()).update(found)
    names = {}
    for family in helps:
        names.setdefault(family, set())
        if types.get(family) in ("histogram", "summary"):
            for suffix in ("_bucket", "_count", "_sum"):
                names.setdefault(family + suffix, set())
    for name, found in labels.items():
        names.setdefault(name, set()).update(found)
    return names, helps


class DashboardStructure(unittest.TestCase):
    """The JSON alone."""

    @classmethod
    def setUpClass(cls):
        with open(dashboard_path()) as f:
            cls.text = f.read()
        cls.dashboard = json.loads(cls.text)

    def test_valid_json_and_schema(self):
        say("the dashboard is valid JSON with schemaVersion >= 36, a uid, a title and unique panel ids")
        d = self.dashboard
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertTrue(d["uid"] and d["title"])
        ids = [p["id"] for p in all_panels(d["panels"])]
        self.assertEqual(len(ids), len(set(ids)), "duplicate panel ids")
        for panel in all_panels(d["panels"]):
            g = panel["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, panel["title"])

    def test_datasource_variable(self):
        say("every panel and target uses the data source ${DS_PROMETHEUS}, a datasource variable of type prometheus")
        variables = {v["name"]: v for v in self.dashboard["templating"]["list"]}
        ds = variables["DS_PROMETHEUS"]
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        for panel in all_panels(self.dashboard["panels"]):
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for t in panel["targets"]:
                self.assertEqual(t["datasource"]["uid"], DATASOURCE_UID, panel["title"])
        for var in variables.values():
            if var["type"] == "query":
                self.assertEqual(var["datasource"]["uid"], DATASOURCE_UID, var["name"])

    def test_port_and_lcore_variables(self):
        say("templating has $port and $lcore from label_values(), and panels filter on them")
        variables = {v["name"]: v for v in self.dashboard["templating"]["list"]}
        for name, label in (("port", "port"), ("lcore", "lcore")):
            query = variables[name]["query"]["query"]
            self.assertRegex(query, r"^label_values\(vhostd_\w+(\{[^}]*\})?, %s\)$" % label)
        exprs = [t["expr"] for p in all_panels(self.dashboard["panels"]) for t in p.get("targets", [])]
        self.assertGreater(sum('port=~"$port"' in e for e in exprs), 5)
        self.assertGreater(sum('lcore=~"$lcore"' in e for e in exprs), 3)

    def test_expressions_parse(self):
        say("every PromQL expression (variables substituted) parses: promtool check rules")
        rules = [{"record": "dashboard:expr_%d" % i, "expr": substitute(expr)}
                 for i, (_, expr, _) in enumerate(dashboard_expressions(self.dashboard))]
        workdir = tempfile.mkdtemp(prefix="dashrules.")
        try:
            path = os.path.join(workdir, "rules.yml")
            with open(path, "w") as f:
                json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            result = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True, timeout=60)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SUCCESS: %d rules found" % len(rules), result.stdout)

    def test_panels_cover_the_brief(self):
        say("there are panels for rx/tx packets and bits, drops by reason, port state, queues, core busy, "
            "core packets, batch size, gRPC by method and code, RSS, CPU, fds and build info")
        exprs = " ".join(t["expr"] for p in all_panels(self.dashboard["panels"]) for t in p.get("targets", []))
        for needle in ("vhostd_port_receive_packets_total", "vhostd_port_transmit_packets_total",
                       "8 * sum by (port) (rate(vhostd_port_receive_bytes_total",
                       "8 * sum by (port) (rate(vhostd_port_transmit_bytes_total", "by (port, reason)",
                       "vhostd_port_up", "vhostd_port_state", "vhostd_port_queues", "vhostd_core_busy_seconds_total",
                       "vhostd_core_idle_seconds_total", "vhostd_core_packets_total",
                       "vhostd_core_batch_packets_sum", "vhostd_core_batch_packets_bucket",
                       "by (method, code)", "process_resident_memory_bytes", "process_cpu_seconds_total",
                       "process_open_fds", "vhostd_build_info"):
            self.assertIn(needle, exprs)


class DashboardAgainstDaemon(unittest.TestCase):
    """A live daemon with two ports and a cross-connect, and a Prometheus scraping it."""

    @classmethod
    def setUpClass(cls):
        with open(dashboard_path()) as f:
            cls.dashboard = json.load(f)
        cls.workdir = short_tmpdir("vhg")
        cls.prom = None
        for attempt in range(3):
            cls.port = free_port()
            cls.daemon = Vhostd(cls.workdir, cores="0-1", extra_flags=["--metrics-address=127.0.0.1:%d" % cls.port])
            try:
                cls.daemon.start()
                break
            except VhostdError:
                if attempt == 2 or "cannot listen" not in cls.daemon.log_tail():
                    shutil.rmtree(cls.workdir, ignore_errors=True)
                    raise
        try:
            stub = cls.daemon.stub()
            for name in ("p0", "p1"):
                stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(name, socket_path=name + ".sock",
                                                                           queues=2)))
            stub.CreateCrossConnect(api.CreateCrossConnectRequest(
                cross_connect=api.CrossConnect(name="x01", port_a="p0", port_b="p1")))
            try:  # one refused call, so the "gRPC errors/s" panel has a series
                stub.GetPort(api.GetPortRequest(name="missing"))
            except grpc.RpcError:
                pass
            status, _, cls.exposition = scrape("http://127.0.0.1:%d/metrics" % cls.port)
            assert status == 200, status
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prom is not None:
            cls.prom.stop()
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_metric_and_label_names_exist(self):
        say("every metric an expression names is a # HELP family (or its _bucket/_sum/_count) of a live "
            "scrape, and every label it matches or aggregates on is carried by those metrics")
        exported, helps = exported_labels(self.exposition)
        self.assertIn("vhostd_port_receive_packets_total", helps)
        used = set()
        for where, expr, listed in dashboard_expressions(self.dashboard):
            names = metric_names(expr)
            self.assertTrue(names, "%s: no metric found in %s" % (where, expr))
            unknown = sorted(n for n in names if n not in exported)
            self.assertEqual(unknown, [], "%s: %s" % (where, expr))
            carried = set(TARGET_LABELS)
            for n in names:
                carried |= exported[n]
            labels = label_names(expr) | ({listed} if listed else set())
            self.assertEqual(sorted(labels - carried), [], "%s: labels not on %s: %s" % (where, sorted(names), expr))
            used |= names
        print("  %d expressions use %d metric names: %s" % (len(dashboard_expressions(self.dashboard)), len(used),
                                                         ", ".join(sorted(used))))
        families = {n for n in helps if n.startswith("vhostd_")}
        unused = sorted(f for f in families if not any(u == f or u.startswith(f + "_") for u in used))
        print("  vhostd families on no panel: %s" % (", ".join(unused) or "none"))

    def test_prometheus_returns_data_for_every_expression(self):
        say("a real Prometheus scraping the daemon every second returns a non-empty result for every panel "
            "expression and every variable's selector (variables substituted, rate window 10s)")
        type(self).prom = PrometheusServer(["127.0.0.1:%d" % self.port], scrape_interval="1s")
        self.prom.start()
        self.prom.wait_for_target_up(timeout=30)
        time.sleep(3)  # a few samples, so rate() and increase() have two points in their window
        empty = []
        for where, expr, listed in dashboard_expressions(self.dashboard):
            result = self.prom.query(substitute(expr))
            if not result:
                empty.append("%s: %s" % (where, expr))
            elif listed:
                values = sorted({s["metric"].get(listed) for s in result})
                self.assertNotIn(None, values, "%s: no %s label" % (where, listed))
                print("  $%s values: %s" % (listed, values))
        self.assertEqual(empty, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
