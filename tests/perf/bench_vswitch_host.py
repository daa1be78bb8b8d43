"""What else the machine did during a benchmark window, and per-round locks.

CpuMeter measures the CPU time that processes other than ours (the benchmark, the
traffic side and the backend) used during a window, in percent of one CPU, and the
hypervisor's steal time: on a shared machine a sample is only as good as its window was
quiet. RoundLock takes flock(2) locks for one round and releases them between rounds, so
that other users of the machine get their turn without breaking the alternation.
"""

import fcntl
import os


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def _cpu_ticks():
    """(busy, total, steal) ticks summed over all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait + steal, steal


def _process_ticks(pid):
    """utime + stime of a process (all its threads); 0 once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


class CpuMeter:
    def __init__(self):
        self.pids = [os.getpid()]

    def track(self, pids):
        """The processes of the sample; their CPU time is not foreign."""
        self.pids = [os.getpid()] + [p for p in pids if p]

    def _ours(self):
        return sum(_process_ticks(p) for p in self.pids)

    def begin(self):
        self.start = _cpu_ticks(), self._ours()

    def end(self):
        """(foreign %, steal %) of one CPU since begin()."""
        (b0, t0, s0), o0 = self.start
        (b1, t1, s1), o1 = _cpu_ticks(), self._ours()
        per_cpu = (t1 - t0) / (os.cpu_count() or 1)
        if per_cpu <= 0:
            return 0.0, 0.0
        return max(0.0, 100.0 * ((b1 - b0) - (o1 - o0)) / per_cpu), 100.0 * (s1 - s0) / per_cpu


class RoundLock:
    def __init__(self, paths):
        self.paths = paths
        self.files = []

    def __enter__(self):
        for path in self.paths:
            f = open(path, "a")
            fcntl.flock(f, fcntl.LOCK_EX)
            self.files.append(f)
        return self

    def __exit__(self, *exc):
        for f in reversed(self.files):
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
        self.files = []
