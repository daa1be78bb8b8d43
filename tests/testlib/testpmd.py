"""Drive a real dpdk-testpmd in interactive mode (-i) through a pipe.

Standard library only; run with Debian's /usr/bin/python3 (or any python3 >= 3.7).

    from testpmd import Testpmd, virtio_user_vdev, vhost_vdev

    with Testpmd([vhost_vdev(0, a_sock), vhost_vdev(1, b_sock)],
                 lcores="1,0", main_lcore=1, forward_mode="io") as backend:
        backend.start_forwarding()
        with Testpmd([virtio_user_vdev(0, a_sock), virtio_user_vdev(1, b_sock)],
                     lcores="0,1", main_lcore=0) as tp:
            tp.set_fwd("io")
            tp.start_forwarding(tx_first=1)
            time.sleep(1)
            fwd = tp.stop_forwarding()      # parsed forward statistics
            stats = tp.port_stats()         # {0: {"rx_packets": ..., ...}, 1: {...}}
            queues = tp.queue_stats(0)      # {0: {"rx_good_packets": ..., ...}}

How it works
  * testpmd runs under `stdbuf -oL -eL` in its own session (setsid), stdin and
    stdout are pipes.  Without stdbuf its stdout would be block-buffered and the
    output of a command would not be complete when its next prompt appears.
  * DPDK's cmdline library echoes each command line after the prompt, so the
    answer to a command is the text between "testpmd> <command>\\r\\n" and the
    next "testpmd> ".  A background thread drains the pipe all the time (testpmd
    would block on a full pipe otherwise) and optionally copies it to a log file.
  * Every instance gets its own --file-prefix (default "tp<pid>x<n>"), and
    close() removes DPDK's runtime directory for it (/var/run/dpdk/<prefix> as
    root) once the process is gone.
  * close(): "quit", then SIGTERM, then SIGKILL to testpmd's process group.  It
    is idempotent and also runs from __exit__ and (best effort) at interpreter
    exit, so a failing test does not leave a polling testpmd behind.

Counters
  * port_stats(): "show port stats all" -> {port: {...}} with rx_packets,
    rx_bytes, rx_errors, rx_missed, rx_nombuf, tx_packets, tx_bytes, tx_errors,
    rx_pps, tx_pps, rx_bps, tx_bps.  rx_dropped is an alias of rx_missed
    (the driver's imissed); the ethdev NIC counters have no TX drop counter.
  * fwd_stats() / stop_forwarding(): testpmd's forward statistics per port
    ({port: {rx_packets, rx_dropped, rx_total, tx_packets, tx_dropped,
    tx_total}}, plus "all" for the accumulated line).  tx_dropped here is what
    the forwarding engine could not send (e.g. the peer's ring was full).
  * xstats(port) -> {name: int}; queue_stats(port) groups the per-queue
    xstats: virtio_user exposes rx_q0_good_packets, tx_q1_good_bytes, ... and
    they come back as {0: {"rx_good_packets": ..}, 1: {"tx_good_bytes": ..}}.
"""

import atexit
import itertools
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

PROMPT = "testpmd> "

__all__ = [
    "Testpmd", "TestpmdError", "TestpmdTimeout", "TestpmdExited",
    "virtio_user_vdev", "vhost_vdev", "parse_port_stats", "parse_fwd_stats",
    "parse_xstats", "group_queue_xstats", "dpdk_runtime_dir", "short_tmpdir",
    "wait_for_sockets",
]


class TestpmdError(Exception):
    """testpmd misbehaved; the message ends with the tail of its output."""


class TestpmdTimeout(TestpmdError):
    """No prompt within the timeout."""


class TestpmdExited(TestpmdError):
    """testpmd exited while we were waiting for it."""


# ----------------------------------------------------------------- helpers

def virtio_user_vdev(index, path, queues=1, queue_size=256, server=False, mac=None, extra=None):
    """--vdev value of a virtio_user (frontend) port on a vhost-user socket.

    server=True: testpmd listens on `path` (server=1) and the backend connects.
    Note that testpmd then blocks in its start-up until a backend has connected
    to every such port (one after the other), so start it with wait=False.
    """
    s = "net_virtio_user%d,path=%s,queues=%d,queue_size=%d" % (index, path, queues, queue_size)
    if mac:
        s += ",mac=" + mac
    if server:
        s += ",server=1"
    if extra:
        s += "," + extra
    return s


def vhost_vdev(index, iface, queues=1, client=False, extra=None):
    """--vdev value of a net_vhost (backend) port; client=True connects to iface."""
    s = "net_vhost%d,iface=%s,queues=%d" % (index, iface, queues)
    if client:
        s += ",client=1"
    if extra:
        s += "," + extra
    return s


def dpdk_runtime_dir(file_prefix):
    """The directory DPDK 22.11 creates for --file-prefix (see eal_create_runtime_dir)."""
    if os.geteuid() == 0:
        base = "/var/run"
    else:
        base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    return os.path.join(base, "dpdk", file_prefix)


def short_tmpdir(prefix="tp", max_len=60):
    """mkdtemp() whose path leaves room for socket names (sun_path is 108 bytes).

    Uses $TMPDIR when its path is short enough (Bazel's test TMPDIR usually is
    not), else /tmp.  The caller removes it (shutil.rmtree).
    """
    base = os.environ.get("TMPDIR") or "/tmp"
    if len(base) + len(prefix) + 10 > max_len or not os.path.isdir(base):
        base = "/tmp"
    return tempfile.mkdtemp(prefix=prefix + ".", dir=base)


def wait_for_sockets(paths, timeout=30.0, alive=None):
    """Wait until every path in `paths` is a Unix socket.

    alive: optional callable; if it returns False the wait is abandoned
    (TestpmdExited).  Raises TestpmdTimeout after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        missing = [p for p in paths if not _is_socket(p)]
        if not missing:
            return
        if alive is not None and not alive():
            raise TestpmdExited("process exited before creating %s" % ", ".join(missing))
        if time.monotonic() > deadline:
            raise TestpmdTimeout("sockets not created within %.0f s: %s" % (timeout, ", ".join(missing)))
        time.sleep(0.05)


def _is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


# ----------------------------------------------------------------- parsers

_FIELD = re.compile(r"([A-Za-z]+-[A-Za-z]+):\s*(\d+)")


def _key(name):
    return name.lower().replace("-", "_")


def parse_port_stats(text):
    """Parse "show port stats all" (or "show port stats N") -> {port: {field: int}}."""
    ports = {}
    cur = None
    for line in text.splitlines():
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            cur = ports.setdefault(int(m.group(1)), {})
            continue
        if cur is None:
            continue
        if line.strip().startswith("####"):
            cur = None
            continue
        if "Stats reg" in line:  # per-queue stat registers (queue stats mapping): skip
            continue
        for name, value in _FIELD.findall(line):
            cur[_key(name)] = int(value)
    for st in ports.values():
        if "rx_missed" in st:
            st.setdefault("rx_dropped", st["rx_missed"])
    return ports


def parse_fwd_stats(text):
    """Parse forward statistics ("stop", "show fwd stats all").

    -> {port: {rx_packets, rx_dropped, rx_total, tx_packets, tx_dropped, tx_total},
        "all": {...accumulated...}}.  Per-stream sections are ignored.
    """
    res = {}
    cur = None
    for line in text.splitlines():
        m = re.search(r"Forward statistics for port (\d+)", line)
        if m:
            cur = res.setdefault(int(m.group(1)), {})
            continue
        if "Accumulated forward statistics" in line:
            cur = res.setdefault("all", {})
            continue
        s = line.strip()
        if "Forward Stats for RX Port" in line or (s and set(s) <= set("-+")):
            cur = None
            continue
        if cur is not None:
            for name, value in _FIELD.findall(line):
                cur[_key(name)] = int(value)
    return res


def parse_xstats(text):
    """Parse "show port xstats N" -> {name: int} (the first port block only)."""
    res = {}
    seen_header = False
    for line in text.splitlines():
        if "NIC extended statistics for port" in line:
            if seen_header:
                break
            seen_header = True
            continue
        m = re.match(r"^\s*([A-Za-z0-9_\[\]\.\-]+):\s+(\d+)\s*$", line)
        if m:
            res[m.group(1)] = int(m.group(2))
    if not seen_header:
        raise TestpmdError("no xstats in output:\n" + text[-2000:])
    return res


_QUEUE_XSTAT = re.compile(r"^(rx|tx)_q(\d+)_(.+)$")


def group_queue_xstats(xstats):
    """{"rx_q0_good_packets": 5, "tx_q1_good_bytes": 7} -> {0: {"rx_good_packets": 5}, 1: {"tx_good_bytes": 7}}."""
    queues = {}
    for name, value in xstats.items():
        m = _QUEUE_XSTAT.match(name)
        if m:
            queues.setdefault(int(m.group(2)), {})["%s_%s" % (m.group(1), m.group(3))] = value
    return queues


# ----------------------------------------------------------------- the process

_counter = itertools.count()
_live = set()


def _close_all_at_exit():
    for tp in list(_live):
        try:
            tp.close(quit_timeout=3)
        except Exception:  # pragma: no cover - best effort at interpreter exit
            pass


atexit.register(_close_all_at_exit)


class Testpmd:
    """One interactive dpdk-testpmd process.

    vdevs:           list of --vdev values (see virtio_user_vdev / vhost_vdev)
    file_prefix:     DPDK --file-prefix; default "tp<pid>x<n>", unique per instance
    lcores/main_lcore: "-l LCORES --main-lcore N"; two testpmds on a 2-core box
                     use "0,1"/0 and "1,0"/1.  The forwarding lcore is the other one.
    mem_mb:          "-m"; with no_huge=True also "--no-huge" (memfd-backed memory,
                     which virtio_user needs to share memory with a backend)
    total_num_mbufs: testpmd --total-num-mbufs (its default pool is too big for -m 512)
    forward_mode, nb_cores, rxq, txq, rxd, txd, burst, txpkts, mbuf_size:
                     the testpmd options of the same names, when not None
    extra_eal, extra_args: more EAL / testpmd arguments (lists)
    telemetry:       False adds --no-telemetry
    log_path:        copy everything testpmd prints to this file
    expect_ports:    start-up fails unless testpmd has at least this many ports;
                     default len(vdevs), 0 disables the check
    testpmd:         the binary; default $TESTPMD or "dpdk-testpmd"
    """

    def __init__(self, vdevs, file_prefix=None, lcores="0,1", main_lcore=0, mem_mb=512,
                 no_huge=True, no_pci=True, total_num_mbufs=8192, forward_mode=None,
                 nb_cores=None, rxq=None, txq=None, rxd=None, txd=None, burst=None,
                 txpkts=None, mbuf_size=None, extra_eal=(), extra_args=(), telemetry=False,
                 log_path=None, testpmd=None, env=None, expect_ports=None):
        self.vdevs = list(vdevs)
        self.expect_ports = len(self.vdevs) if expect_ports is None else expect_ports
        self.startup_output = ""
        self.file_prefix = file_prefix or "tp%dx%d" % (os.getpid(), next(_counter))
        self.testpmd = testpmd or os.environ.get("TESTPMD") or "dpdk-testpmd"
        # "0,1": lcore N on CPU N; a map such as "0@0,1@0" (EAL --lcores) puts lcores on
        # other CPUs, e.g. the main lcore beside the forwarding one.
        eal = ["--lcores" if "@" in str(lcores) else "-l", str(lcores), "--main-lcore", str(main_lcore)]
        if no_huge:
            eal.append("--no-huge")
        if mem_mb:
            eal += ["-m", str(mem_mb)]
        if no_pci:
            eal.append("--no-pci")
        eal.append("--file-prefix=" + self.file_prefix)
        if not telemetry:
            eal.append("--no-telemetry")
        for v in self.vdevs:
            eal += ["--vdev", v]
        eal += list(extra_eal)
        app = ["-i", "--no-mlockall"]
        if total_num_mbufs:
            app.append("--total-num-mbufs=%d" % total_num_mbufs)
        for opt, val in (("forward-mode", forward_mode), ("nb-cores", nb_cores), ("rxq", rxq),
                         ("txq", txq), ("rxd", rxd), ("txd", txd), ("burst", burst),
                         ("txpkts", txpkts), ("mbuf-size", mbuf_size)):
            if val is not None:
                app.append("--%s=%s" % (opt, val))
        app += list(extra_args)
        self.argv = [self.testpmd] + eal + ["--"] + app
        self.env = env
        self.log_path = log_path
        self.proc = None
        self.returncode = None
        self._buf = ""
        self._pos = 0          # everything before this offset has been consumed
        self._dropped = 0      # characters trimmed off the front of _buf
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None
        self._log = None

    # ------------------------------------------------------------- lifecycle

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self, wait=True, timeout=60.0):
        """Start testpmd; with wait=True also wait for its first prompt."""
        if self.proc is not None:
            raise TestpmdError("already started")
        argv = self.argv
        if shutil.which("stdbuf"):
            argv = ["stdbuf", "-oL", "-eL"] + argv
        if self.log_path:
            self._log = open(self.log_path, "a", encoding="utf-8", errors="replace")
            self._log.write("$ %s\n" % " ".join(argv))
            self._log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=self.env)
        _live.add(self)
        self._reader = threading.Thread(target=self._read_loop, name="testpmd-%s" % self.file_prefix,
                                        daemon=True)
        self._reader.start()
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self.close(quit_timeout=2)
                raise
        return self

    def wait_ready(self, timeout=60.0):
        """Wait for the first prompt (start-up done: ports configured and started).

        Then check that testpmd has as many ports as expected (expect_ports):
        testpmd carries on with the ports it could probe, e.g. without the one
        whose vhost-user socket refused the connection.  Returns the start-up
        output.
        """
        self.startup_output = self._wait_prompt(timeout, "start-up")
        if self.expect_ports:
            out = self.cmd("show port summary all")
            m = re.search(r"Number of available ports:\s*(\d+)", out)
            n = int(m.group(1)) if m else -1
            if n < self.expect_ports:
                raise TestpmdError("testpmd %s has %d port(s), expected %d; start-up output:\n%s"
                                   % (self.file_prefix, n, self.expect_ports, self.startup_output[-3000:]))
        return self.startup_output

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def close(self, quit_timeout=15.0, term_timeout=5.0):
        """Stop testpmd: "quit", then SIGTERM, then SIGKILL; remove its runtime dir.

        Returns testpmd's exit status (negative: killed by that signal).
        """
        if self.proc is None:
            return self.returncode
        p = self.proc
        if p.poll() is None:
            try:
                p.stdin.write(b"quit\n")
                p.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
            if not self._wait_exit(quit_timeout):
                self._signal_group(signal.SIGTERM)
                if not self._wait_exit(term_timeout):
                    self._signal_group(signal.SIGKILL)
                    self._wait_exit(5)
        # stdbuf execs testpmd, so pid == pgid; anything left in the group goes too
        self._signal_group(signal.SIGKILL)
        try:
            p.stdin.close()
        except (OSError, ValueError):
            pass
        self.returncode = p.wait()
        if self._reader is not None:
            self._reader.join(5)
        try:
            p.stdout.close()
        except (OSError, ValueError):
            pass
        if self._log:
            self._log.write("\n[testpmd exited with %s]\n" % self.returncode)
            self._log.close()
            self._log = None
        shutil.rmtree(dpdk_runtime_dir(self.file_prefix), ignore_errors=True)
        _live.discard(self)
        self.proc = None
        return self.returncode

    def _wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # ------------------------------------------------------------- I/O

    def _read_loop(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            text = data.decode("utf-8", errors="replace")
            if self._log:
                try:
                    self._log.write(text)
                    self._log.flush()
                except (OSError, ValueError):
                    pass
            with self._cond:
                self._buf += text
                # keep memory bounded: drop consumed output, keep 64 KiB for tail()
                if self._pos > (1 << 20):
                    cut = self._pos - (1 << 16)
                    self._buf = self._buf[cut:]
                    self._pos -= cut
                    self._dropped += cut
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def output(self):
        """Everything testpmd printed that is still buffered (recent output)."""
        with self._cond:
            return self._buf

    def tail(self, n=3000):
        with self._cond:
            return self._buf[-n:]

    def _wait_prompt(self, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                i = self._buf.find(PROMPT, self._pos)
                if i >= 0:
                    text = self._buf[self._pos:i]
                    self._pos = i + len(PROMPT)
                    return text
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestpmdTimeout("testpmd %s: no prompt after %s within %.0f s; output tail:\n%s"
                                         % (self.file_prefix, what, timeout, self._buf[-3000:]))
                self._cond.wait(min(left, 0.5))
        rc = self.proc.wait()
        raise TestpmdExited("testpmd %s exited (status %s) during %s; output tail:\n%s"
                            % (self.file_prefix, rc, what, self._buf[-3000:]))

    def cmd(self, line, timeout=30.0):
        """Send one command line, wait for the next prompt, return the answer.

        The answer is the text printed between the command's echo and the next
        prompt (asynchronous messages printed before the echo are dropped).
        """
        if "\n" in line:
            raise ValueError("one command per call")
        if not self.alive():
            raise TestpmdExited("testpmd %s is not running; output tail:\n%s" % (self.file_prefix, self.tail()))
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise TestpmdExited("testpmd %s: cannot send %r: %s; output tail:\n%s"
                                % (self.file_prefix, line, e, self.tail()))
        text = self._wait_prompt(timeout, repr(line))
        echo = line.strip()
        for sep in ("\r\n", "\n"):
            i = text.find(echo + sep)
            if i >= 0:
                return text[i + len(echo) + len(sep):]
        return text

    # ------------------------------------------------------------- commands

    def set_fwd(self, mode):
        out = self.cmd("set fwd %s" % mode)
        if "Invalid" in out or "Bad arguments" in out:
            raise TestpmdError("set fwd %s: %s" % (mode, out.strip()))
        return out

    def start_forwarding(self, tx_first=None):
        """"start", or "start tx_first [N]" when tx_first is given (True = 1 burst)."""
        if tx_first is None or tx_first is False:
            line = "start"
        elif tx_first is True:
            line = "start tx_first"
        else:
            line = "start tx_first %d" % int(tx_first)
        out = self.cmd(line)
        if "Bad arguments" in out:
            raise TestpmdError("%s: %s" % (line, out.strip()))
        return out

    def stop_forwarding(self):
        """"stop"; returns the parsed forward statistics (see parse_fwd_stats)."""
        return parse_fwd_stats(self.cmd("stop"))

    def fwd_stats(self):
        return parse_fwd_stats(self.cmd("show fwd stats all"))

    def port_stats(self, port=None):
        """"show port stats all" (or one port) -> {port: {field: int}}."""
        text = self.cmd("show port stats %s" % ("all" if port is None else int(port)))
        stats = parse_port_stats(text)
        if not stats:
            raise TestpmdError("no port statistics in output:\n" + text[-2000:])
        return stats

    def clear_stats(self):
        return self.cmd("clear port stats all")

    def loop_and_drain(self, seconds=1.5, settle=0.5):
        """io-forwards one injected burst per port and queue (tx_first) for `seconds`, then
        drains what is still in flight (rxonly) after giving the backend `settle`
        seconds to empty its rings, so every counter on both sides is final. Returns
        port_stats()."""
        self.start_forwarding(tx_first=1)
        time.sleep(seconds)
        self.stop_forwarding()
        time.sleep(settle)
        self.set_fwd("rxonly")
        self.start_forwarding()
        time.sleep(settle)
        self.stop_forwarding()
        self.set_fwd("io")
        return self.port_stats()

    def drain(self):
        """Stops forwarding and receives (rxonly) what is still in flight until the rx
        counters stop moving; back in io mode, stopped. Returns port_stats()."""
        self.stop_forwarding()
        self.set_fwd("rxonly")
        self.start_forwarding()
        last = None
        while True:
            time.sleep(0.2)
            stats = self.port_stats()
            counts = [stats[p]["rx_packets"] for p in sorted(stats)]
            if counts == last:
                break
            last = counts
        self.stop_forwarding()
        self.set_fwd("io")
        return stats

    def xstats(self, port):
        """"show port xstats N" -> {name: int}."""
        return parse_xstats(self.cmd("show port xstats %d" % int(port)))

    def queue_stats(self, port):
        """Per-queue counters from the xstats: {queue: {"rx_good_packets": ..., ...}}."""
        return group_queue_xstats(self.xstats(port))

    def quit(self, timeout=15.0):
        """Alias of close(): "quit", escalating to SIGTERM/SIGKILL."""
        return self.close(quit_timeout=timeout)

    def __repr__(self):
        return "<Testpmd %s pid=%s>" % (self.file_prefix, self.pid)
