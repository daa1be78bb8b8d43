"""Scrape a /metrics endpoint and run a real Prometheus server for a test.

Standard library only; run with Debian's /usr/bin/python3. Needs the Debian package
`prometheus` (the `prometheus` and `promtool` binaries) for PrometheusServer and
promtool_check_metrics().

    port = free_port()                                  # for --metrics-address=127.0.0.1:<port>
    status, headers, body = scrape("http://127.0.0.1:%d/metrics" % port)
    rc, out = promtool_check_metrics(body)              # 0 and "" when clean

    with PrometheusServer(["127.0.0.1:%d" % port], scrape_interval="1s") as prom:
        prom.wait_for_target_up(timeout=30)             # the first sample takes 5-6 s
        prom.query('sum(rate(vhostd_port_receive_packets_total[5s]))', at=time.time())
        prom.targets()                                  # /api/v1/targets activeTargets

Prometheus always listens on 127.0.0.1 (a free port) and keeps its TSDB in a temporary
directory that stop() removes; stop() sends SIGTERM (a clean shutdown takes < 1 s)
and SIGKILL only if it does not end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["free_port", "scrape", "promtool_check_metrics", "PrometheusServer", "PrometheusError"]


class PrometheusError(Exception):
    pass


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url, timeout=10.0, headers=None, method="GET"):
    """GET `url` -> (status, headers as a lower-cased dict, body text). HTTP errors are
    returned, not raised, so a test can assert on a 404."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", errors="replace")
        return e.code, {k.lower(): v for k, v in e.headers.items()}, body


def promtool_check_metrics(text, promtool="promtool"):
    """Runs `promtool check metrics` on an exposition -> (exit status, stdout + stderr).
    0 and no output: clean; 3: lint findings; 1: parse error."""
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


class PrometheusServer:
    """One `prometheus` process scraping `targets` ("host:port") with job name `job`."""

    def __init__(self, targets, scrape_interval="1s", job="vhostd", metrics_path="/metrics",
                 binary="prometheus", workdir=None, extra_args=()):
        self.targets_list = list(targets)
        self.scrape_interval = scrape_interval
        self.job = job
        self.metrics_path = metrics_path
        self.binary = binary
        self.extra_args = list(extra_args)
        self._own_workdir = workdir is None
        self.workdir = workdir
        self.port = None
        self.proc = None
        self.log_path = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def config_text(self):
        # JSON is YAML: no YAML library needed.
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval,
                       "scrape_timeout": self.scrape_interval},
            "scrape_configs": [{
                "job_name": self.job,
                "metrics_path": self.metrics_path,
                "static_configs": [{"targets": self.targets_list}],
            }],
        }
        return json.dumps(config, indent=2) + "\n"

    def start(self, timeout=30.0, attempts=3):
        """Starts Prometheus and waits until /-/ready answers (about 0.2 s)."""
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="prometheus.")
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(self.config_text())
        check = subprocess.run(["promtool", "check", "config", config], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            raise PrometheusError("promtool check config failed:\n%s%s" % (check.stdout, check.stderr))
        self.log_path = os.path.join(self.workdir, "prometheus.log")
        for attempt in range(attempts):  # the free port may be taken before Prometheus binds it
            self.port = free_port()
            argv = [self.binary, "--config.file=" + config,
                    "--storage.tsdb.path=" + os.path.join(self.workdir, "data"),
                    "--web.listen-address=127.0.0.1:%d" % self.port] + self.extra_args
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                time.sleep(0.05)
            self._terminate()
            if attempt == attempts - 1 or "address already in use" not in self.log_tail():
                raise PrometheusError("prometheus did not become ready:\n" + self.log_tail())
        return self

    def _terminate(self, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def stop(self):
        """SIGTERM (SIGKILL after 10 s); removes the temporary directory. Returns the exit status."""
        code = self._terminate()
        if self._own_workdir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return code

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except (OSError, TypeError):
            return ""

    # ------------------------------------------------------------- HTTP API

    def api(self, path, params=None, timeout=10.0):
        """GET /api/v1/<path> -> the "data" member; raises PrometheusError on an error answer."""
        url = "%s/api/v1/%s" % (self.url, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read().decode("utf-8", errors="replace") or "{}")
        if answer.get("status") != "success":
            raise PrometheusError("%s: %s: %s" % (path, answer.get("errorType"), answer.get("error")))
        return answer["data"]

    def query(self, expr, at=None):
        """Instant query -> list of {"metric": {...}, "value": [t, "v"]} (a vector result)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        data = self.api("query", params)
        if data["resultType"] != "vector":
            raise PrometheusError("%s: expected a vector, got %s" % (expr, data["resultType"]))
        return data["result"]

    def targets(self):
        """The active targets (/api/v1/targets): health, lastError, scrapeUrl, labels..."""
        return self.api("targets")["activeTargets"]

    def wait_for_target_up(self, timeout=30.0):
        """Waits until every target has health "up" and `up` is 1 for all of them."""
        deadline = time.monotonic() + timeout
        targets = []
        while time.monotonic() < deadline:
            targets = self.targets()
            if len(targets) == len(self.targets_list) and all(t["health"] == "up" for t in targets):
                up = self.query('up{job="%s"}' % self.job)
                if len(up) == len(self.targets_list) and all(s["value"][1] == "1" for s in up):
                    return targets
            time.sleep(0.1)
        raise PrometheusError("targets not up within %.0f s: %s\n%s" % (timeout, targets, self.log_tail()))
