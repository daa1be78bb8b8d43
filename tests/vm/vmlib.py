"""Linux guests under QEMU for host-side tests: one `Guest` is one tests/lab/run-guest.sh
boot running in-guest scenario scripts, in the background.

    g = Guest("a", [scenario], log_dir, env={"VM_ROLE": "a"},
              qemu_args=vhost_user_nic(sock, "52:54:00:00:00:01", mem_mb=512))
    g.start()
    ...
    g.wait(300)            # run-guest.sh's status: 0 only if every check passed
    g.results()            # checks, infos and metrics parsed from the console log
    g.kill()               # idempotent; never leaves QEMU behind

The guest's side of a test is a busybox-sh scenario; `scenario_script` prepends
guest_lib.sh to it (run-guest.sh runs each script in its own subshell, so helpers must
travel in the same file). Standard library only; run with Debian's /usr/bin/python3.
"""

import os
import re
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(os.path.dirname(HERE), "lab")
RUN_GUEST = os.path.join(LAB, "run-guest.sh")
SETUP = os.path.join(LAB, "setup.sh")
GUEST_LIB = os.path.join(HERE, "guest_lib.sh")
SHARE_TAG = "vmshare"  # the 9p tag guest_lib.sh mounts


def lab_setup():
    """Builds or checks the cached lab kernel and initramfs (tests/lab/setup.sh)."""
    subprocess.run([SETUP], check=True, stdout=subprocess.DEVNULL)


def scenario_script(scenario, out_path):
    """Writes guest_lib.sh + SCENARIO to OUT_PATH, the file run-guest.sh gets."""
    with open(out_path, "w") as out:
        for path in (GUEST_LIB, scenario):
            with open(path) as f:
                out.write(f.read())
            out.write("\n")
    return out_path


def shared_memory(mem_mb):
    """Guest RAM in a shared memfd: a vhost-user backend maps it (must match -m)."""
    return ["-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % mem_mb,
            "-numa", "node,memdev=mem"]


def nic_device(netdev, mac, queues=1, extra=""):
    """virtio-net-pci on NETDEV. vectors=0 (INTx): Debian's QEMU 7.2 crashes under TCG
    when a vhost-user NIC uses MSI-X (msix_set_vector_notifiers at DRIVER_OK). The
    socket baseline uses the same device so that only the backend differs."""
    dev = "virtio-net-pci,netdev=%s,mac=%s,vectors=0" % (netdev, mac)
    if queues > 1:
        dev += ",mq=on"
    return ["-device", dev + extra]


def vhost_user_nic(sock, mac, mem_mb, queues=1, qemu_server=False, device_extra=""):
    """QEMU args of a vhost-user NIC on SOCK. QEMU is the socket's client by default and
    re-dials (reconnect=1) if the backend restarts; qemu_server=True makes QEMU listen
    (a client-mode backend connects; QEMU waits for it before the guest boots)."""
    chardev = "socket,id=c0,path=%s" % sock + (",server=on,wait=off" if qemu_server else ",reconnect=1")
    return (shared_memory(mem_mb)
            + ["-chardev", chardev, "-netdev", "vhost-user,id=n0,chardev=c0,queues=%d" % queues]
            + nic_device("n0", mac, queues, device_extra))


def share_dir_args(path):
    """A writable 9p export of PATH for guest_lib.sh's VM_SHARE (markers, checksums)."""
    return ["-virtfs", "local,path=%s,mount_tag=%s,security_model=none" % (path, SHARE_TAG)]


_LINE = re.compile(r"^(LAB-[A-Z]+) ?(.*)$")


class Guest:
    """One run-guest.sh process (and the QEMU under it), started in its own session."""

    def __init__(self, name, scripts, log_dir, mem_mb=512, cpus=1, timeout=300, env=None,
                 qemu_args=(), kernel_args=None):
        self.name = name
        self.log_dir = log_dir
        self.console_log = os.path.join(log_dir, name + ".log")
        self.runner_log = os.path.join(log_dir, name + ".run-guest.log")
        self.pidfile = os.path.join(log_dir, name + ".qemu.pid")
        argv = [RUN_GUEST, "-n", name, "-t", str(timeout), "-m", str(mem_mb), "-c", str(cpus),
                "-l", log_dir]
        for k, v in sorted((env or {}).items()):
            argv += ["-e", "%s=%s" % (k, v)]
        if kernel_args:
            argv += ["-a", kernel_args]
        self.argv = argv + list(scripts) + ["--"] + list(qemu_args)
        self.proc = None
        self.started = None
        self.ended = None
        self.returncode = None

    def start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        with open(self.runner_log, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()
        return self

    def poll(self):
        if self.proc is not None and self.returncode is None:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode, self.ended = rc, time.monotonic()
        return self.returncode

    def alive(self):
        return self.proc is not None and self.poll() is None

    def wait(self, timeout):
        """run-guest.sh's exit status, or None if it is still running after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.poll()

    @property
    def wall_seconds(self):
        if self.started is None:
            return None
        return (self.ended or time.monotonic()) - self.started

    def kill(self, grace=10.0):
        """Ends run-guest.sh (its traps end QEMU), then whatever is left, by PID."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            if self.wait(grace) is None:
                self._signal_group(signal.SIGKILL)
                self.wait(5)
        self._kill_qemu()

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _kill_qemu(self):
        # QEMU's own PID file: a SIGKILLed run-guest.sh cannot run its trap.
        try:
            pid = int(open(self.pidfile).read().strip())
            if open("/proc/%d/comm" % pid).read().startswith("qemu-system"):
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def console(self):
        try:
            with open(self.console_log, errors="replace") as f:
                return f.read().replace("\r", "")
        except OSError:
            return ""

    def saw(self, marker):
        """True once a console line starts with MARKER (e.g. "LAB-SCRIPT begin")."""
        return any(line.startswith(marker) for line in self.console().splitlines())

    def results(self):
        """Checks, infos and metrics from the console log (guest-prelude.sh markers)."""
        r = {"ok": [], "fail": [], "info": [], "metrics": {}, "result": None, "boot_uptime": None,
             "script_uptime": None, "returncode": self.returncode, "wall_seconds": self.wall_seconds}
        for line in self.console().splitlines():
            m = _LINE.match(line)
            if not m:
                continue
            kind, rest = m.groups()
            if kind == "LAB-OK":
                r["ok"].append(rest)
            elif kind == "LAB-FAIL":
                r["fail"].append(rest)
            elif kind == "LAB-INFO":
                mm = re.match(r"metric (\S+)=(\S+)$", rest)
                if mm:
                    r["metrics"][mm.group(1)] = _number(mm.group(2))
                else:
                    r["info"].append(rest)
                    mm = re.search(r"prelude timing: start=\S+ .* pmds=(\S+)", rest)
                    if mm:
                        r["script_uptime"] = _number(mm.group(1))
            elif kind == "LAB-BOOT":
                mm = re.search(r"uptime=(\S+)", rest)
                r["boot_uptime"] = _number(mm.group(1)) if mm else None
            elif kind == "LAB-RESULT":
                r["result"] = rest
        return r

    def tail(self, n=40):
        return "\n".join(self.console().splitlines()[-n:])


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text
