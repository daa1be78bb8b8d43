"""Run a real vhostd daemon for a test and talk to it over its gRPC API and vhostctl.

    with Vhostd(workdir, cores="1") as d:
        stub = d.stub()                       # vhostd.v1.Vhostd stub (python3-grpcio)
        d.vhostctl("port", "create", "p0", "--type", "vhost-user", "--socket", "p0.sock")

Binaries and generated Python modules are found through Bazel's runfiles (TEST_SRCDIR)
or, outside Bazel, under bazel-bin/ of the repository.
"""

import os
import signal
import subprocess
import sys
import time

import grpc


def _repo_file(path):
    """Absolute path of a build output or source file, inside or outside `bazel test`."""
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        candidate = os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "vhostd"), path)
        if os.path.exists(candidate):
            return candidate
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    for base in (os.path.join(root, "bazel-bin"), root):
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(path + " (build it with bazel first)")


def import_api():
    """Imports and returns the generated vhostd.v1 modules as a namespace."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(_repo_file("proto/vhostd/v1/vhostd_pb2.py")))))
    from vhostd.v1 import cross_connect_pb2, port_pb2, system_pb2, vhostd_pb2, vhostd_pb2_grpc

    class Api:
        pass

    api = Api()
    for module in (cross_connect_pb2, port_pb2, system_pb2, vhostd_pb2, vhostd_pb2_grpc):
        for name in dir(module):
            if not name.startswith("_"):
                setattr(api, name, getattr(module, name))
    return api


class VhostdError(Exception):
    pass


class Vhostd:
    """One vhostd process with its own sockets, state file and DPDK file prefix."""

    def __init__(self, workdir, cores="1", extra_flags=(), file_prefix=None, log_name="vhostd.log"):
        self.workdir = workdir
        self.grpc_socket = os.path.join(workdir, "api.sock")
        self.socket_dir = os.path.join(workdir, "sockets")
        self.state_file = os.path.join(workdir, "state.json")
        self.log_path = os.path.join(workdir, log_name)
        self.file_prefix = file_prefix or "vhd%d" % os.getpid()
        os.makedirs(self.socket_dir, exist_ok=True)
        self.argv = [
            _repo_file("server/vhostd"),
            # Explicit, so a caller that swaps argv[0] for another binary keeps these.
            "--plugin-dir=" + _repo_file("server/plugins"),
            "--grpc-socket=" + self.grpc_socket,
            "--socket-dir=" + self.socket_dir,
            "--state-file=" + self.state_file,
            "--cores=" + cores,
            "--eal-args=--file-prefix=" + self.file_prefix,
        ] + list(extra_flags)
        self.proc = None
        self._channel = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=60.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise VhostdError("vhostd exited with %d:\n%s" % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.grpc_socket) and self._healthy():
                return
            time.sleep(0.05)
        raise VhostdError("vhostd did not serve within %.0fs:\n%s" % (timeout, self.log_tail()))

    def _healthy(self):
        try:
            ch = grpc.insecure_channel("unix:" + self.grpc_socket)
            call = ch.unary_unary("/grpc.health.v1.Health/Check",
                                  request_serializer=lambda _: b"", response_deserializer=lambda b: b)
            reply = call(None, timeout=1)
            ch.close()
            return reply == b"\x08\x01"  # status: SERVING
        except grpc.RpcError:
            return False

    def stub(self):
        api = import_api()
        if self._channel is None:
            self._channel = grpc.insecure_channel("unix:" + self.grpc_socket)
        return api.VhostdStub(self._channel)

    def vhostctl(self, *args, check=True, output="table"):
        """Runs vhostctl against this daemon; returns CompletedProcess (text)."""
        argv = [_repo_file("client/vhostctl"), "--server", "unix:" + self.grpc_socket, "-o", output] + list(args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and result.returncode != 0:
            raise VhostdError("vhostctl %s failed (%d): %s%s" % (" ".join(args), result.returncode,
                                                                 result.stdout, result.stderr))
        return result

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` and waits for the process to end; returns its exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self._close_channel()
        self.proc = None
        return code

    def stop(self):
        """SIGTERM (clean shutdown), then SIGKILL; removes DPDK's runtime dir."""
        code = None
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
            self.proc = None
        self._close_channel()
        subprocess.run(["rm", "-rf", "/var/run/dpdk/" + self.file_prefix])
        return code

    def _close_channel(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""
