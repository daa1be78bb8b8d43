#!/usr/bin/python3
"""The benchmarks still run from a clone: each one, tiny, against the daemon just built.

Not a measurement (a window of a second, a few ports): it fails when a benchmark no
longer runs to the end, e.g. after a daemon flag or default it relies on changed, or
when its JSON lacks the fields docs/PERFORMANCE.md reads.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from vhostd_proc import _repo_file  # noqa: E402


def run_bench(script, *args):
    out = os.path.join(tempfile.mkdtemp(prefix="bench-smoke."), "out.json")
    argv = ["/usr/bin/python3", os.path.join(HERE, script), "--nice", "0", "--out", out] + list(args)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError("%s exited with %d:\n%s\n%s" % (script, proc.returncode, proc.stdout[-3000:],
                                                             proc.stderr[-3000:]))
    with open(out) as f:
        return json.load(f)


class BenchSmokeTest(unittest.TestCase):
    def test_control_plane(self):
        result = run_bench("bench_control_plane.py", "--ports", "40", "--rounds", "1", "--clients", "4",
                           "--lists", "3", "--no-ovs", "--vhostd", _repo_file("server/vhostd"))
        self.assertEqual(result["run"]["mode"], "client")
        self.assertEqual(sorted(r["clients"] for r in result["vhostd"]), [1, 4])
        for row in result["vhostd"]:
            self.assertGreater(row["create_s"], 0)
            self.assertGreater(row["delete_s"], 0)
            self.assertGreater(row["list_ms_median"], 0)

    def test_vswitch(self):
        result = run_bench("bench_vswitch.py", "--rounds", "1", "--seconds", "1", "--warmup", "0",
                           "--retries", "0", "--configs", "testpmd,xconnect,bridge", "--sizes", "64",
                           "--vhostd", _repo_file("server/vhostd"), "--vhostctl", _repo_file("client/vhostctl"))
        measured = {(s["config"], s["size"]) for s in result["samples"] if s.get("mpps", 0) > 0}
        self.assertIn("plugins/vhost_user.so", result["run"]["binaries"])
        self.assertEqual(measured, {("testpmd", 64), ("xconnect", 64), ("bridge", 64)})


if __name__ == "__main__":
    unittest.main(verbosity=2)
