"""Run a real vhostd daemon for a test and talk to it over its gRPC API and vhostctl.

    with Vhostd(workdir, cores="1") as d:
        stub = d.stub()                       # vhostd.v1.Vhostd stub (python3-grpcio)
        d.vhostctl("port", "create", "p0", "--type", "vhost-user", "--socket-path", "p0.sock")
        port = stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("p1", socket_path="p1.sock")))
        spec_of(port).socket_path             # the plugin's spec message, unpacked
        type_status_of(port).frontend_connections

Ports carry their type's spec and status as google.protobuf.Any, in messages each
plugin owns (plugins/<type>/*.proto). The helpers here pack and unpack them with the
plugins' generated modules (//plugins:all_py, imported as plugins.<type>.<file>_pb2):
every module found is loaded, so a new plugin's messages need no change here.

Binaries and generated Python modules are found through Bazel's runfiles (TEST_SRCDIR)
or, outside Bazel, under bazel-bin/ of the repository.
"""

import glob
import importlib
import os
import signal
import subprocess
import sys
import time

import grpc


def _search_bases():
    """Where build outputs live: the test's runfiles, then bazel-bin/ and the checkout."""
    bases = []
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        bases.append(os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "vhostd")))
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    return bases + [os.path.join(root, "bazel-bin"), root]


def _repo_file(path):
    """Absolute path of a build output or source file, inside or outside `bazel test`."""
    for base in _search_bases():
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(path + " (build it with bazel first)")


_API = None


def import_api():
    """The generated vhostd.v1 modules and every plugin's messages (VhostUserSpec, ...)
    as one namespace."""
    global _API
    if _API is not None:
        return _API
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(_repo_file("proto/vhostd/v1/vhostd_pb2.py")))))
    from vhostd.v1 import bridge_pb2, cross_connect_pb2, event_pb2, port_pb2, system_pb2, vhostd_pb2, vhostd_pb2_grpc

    class Api:
        pass

    api = Api()
    for module in (bridge_pb2, cross_connect_pb2, event_pb2, port_pb2, system_pb2, vhostd_pb2, vhostd_pb2_grpc):
        for name in dir(module):
            if not name.startswith("_"):
                setattr(api, name, getattr(module, name))
    for full_name, cls in plugin_messages().items():
        short = full_name.rsplit(".", 1)[-1]
        if hasattr(api, short):  # a plugin may not shadow the API or another plugin
            raise ImportError("plugin message %s clashes with api.%s" % (full_name, short))
        setattr(api, short, cls)
    _API = api
    return api


# --- the plugins' own messages (typed specs and statuses) -------------------------------

PLUGIN_MODULES = os.path.join("plugins", "*", "*_pb2.py")
_PLUGIN_MESSAGES = None


def _plugin_root():
    """The directory holding plugins/<type>/<file>_pb2.py (//plugins:all_py)."""
    for base in _search_bases():
        if glob.glob(os.path.join(base, PLUGIN_MODULES)):
            return base
    raise FileNotFoundError(PLUGIN_MODULES + " (add //plugins:all_py to the test's data, or bazel build it)")


def plugin_messages():
    """{full message name: class} for every message of every plugin module found."""
    global _PLUGIN_MESSAGES
    if _PLUGIN_MESSAGES is not None:
        return _PLUGIN_MESSAGES
    root = _plugin_root()
    if root not in sys.path:
        sys.path.insert(0, root)
    messages = {}
    for path in sorted(glob.glob(os.path.join(root, PLUGIN_MODULES))):
        relative = os.path.relpath(path, root)[:-len(".py")]
        module = importlib.import_module(relative.replace(os.sep, "."))
        for message in module.DESCRIPTOR.message_types_by_name.values():
            messages[message.full_name] = getattr(module, message.name)
    _PLUGIN_MESSAGES = messages
    return messages


def plugin_message(full_name):
    """The generated class of a plugin message, by full name or Any type URL."""
    name = full_name.rsplit("/", 1)[-1]
    try:
        return plugin_messages()[name]
    except KeyError:
        raise KeyError("no plugin module defines %s (known: %s)" % (name, ", ".join(sorted(plugin_messages()))))


def typed_port(name, type=None, spec=None):
    """A Port of TYPE whose spec is the message SPEC, packed into the Any. Either may be
    None: the daemon takes the type from the spec's message, or the type's defaults."""
    port = import_api().Port(name=name)
    if type is not None:
        port.type = type
    if spec is not None:
        port.spec.Pack(spec)
    return port


def vhost_user_port(name, **fields):
    """A vhost-user port; FIELDS are VhostUserSpec's (mode also as "MODE_CLIENT")."""
    return typed_port(name, "vhost-user", plugin_message("vhostd.plugins.vhost_user.v1.VhostUserSpec")(**fields))


def vhost_kernel_port(name, **fields):
    """A vhost-kernel port; FIELDS are VhostKernelSpec's."""
    return typed_port(name, "vhost-kernel",
                      plugin_message("vhostd.plugins.vhost_kernel.v1.VhostKernelSpec")(**fields))


def vdpa_port(name, **fields):
    """A vdpa port; FIELDS are VdpaSpec's."""
    return typed_port(name, "vdpa", plugin_message("vhostd.plugins.vdpa.v1.VdpaSpec")(**fields))


def _unpack(any_message):
    if not any_message.type_url:
        return None
    message = plugin_message(any_message.type_url)()
    if not any_message.Unpack(message):
        raise ValueError("cannot unpack %s" % any_message.type_url)
    return message


def spec_of(port):
    """The port's spec as its plugin's message (None if the port has none)."""
    return _unpack(port.spec)


def type_status_of(port_or_status):
    """What only the port's type reports (VhostUserStatus, ...), from a Port or a
    PortStatus; None when the daemon sent none."""
    status = getattr(port_or_status, "status", port_or_status)
    return _unpack(status.type_status)


def assert_polled_once(test, stub, port_queues):
    """Checks what is guaranteed with several polling cores, not a placement: each rx
    queue of each port in `port_queues` ({name: rx queue count}) is polled by exactly
    one core in ListCores, and the port's status names that core's lcore. Returns
    {(port, queue): lcore}."""
    api = import_api()
    where = {}
    for core in stub.ListCores(api.ListCoresRequest()).cores:
        for q in core.queues:
            test.assertNotIn((q.port, q.queue), where, "rx queue %d of %s polled by two cores" % (q.queue, q.port))
            where[(q.port, q.queue)] = core.lcore
    for name, queues in port_queues.items():
        test.assertEqual(sorted(q for p, q in where if p == name), list(range(queues)), name)
        status = stub.GetPort(api.GetPortRequest(name=name)).status
        test.assertEqual({(name, q.queue): q.lcore for q in status.queues},
                         {k: v for k, v in where.items() if k[0] == name}, name)
    return where


class VhostdError(Exception):
    pass


class Vhostd:
    """One vhostd process with its own sockets, state file and DPDK file prefix."""

    def __init__(self, workdir, cores="1", extra_flags=(), file_prefix=None, log_name="vhostd.log",
                 plugin_dir=None):
        self.workdir = workdir
        self.grpc_socket = os.path.join(workdir, "api.sock")
        self.socket_dir = os.path.join(workdir, "sockets")
        self.state_file = os.path.join(workdir, "state.json")
        self.log_path = os.path.join(workdir, log_name)
        self.file_prefix = file_prefix or "vhd%d" % os.getpid()
        self.plugin_dir = plugin_dir or _repo_file("server/plugins")
        os.makedirs(self.socket_dir, exist_ok=True)
        self.argv = [
            _repo_file("server/vhostd"),
            # Explicit, so a caller that swaps argv[0] for another binary keeps these.
            "--plugin-dir=" + self.plugin_dir,
            "--grpc-socket=" + self.grpc_socket,
            "--socket-dir=" + self.socket_dir,
            "--state-file=" + self.state_file,
            "--cores=" + cores,
            "--eal-args=--file-prefix=" + self.file_prefix,
        ] + list(extra_flags)
        self.proc = None
        self._channel = None

    def set_plugin_dir(self, path):
        """The --plugin-dir of the next start() (e.g. a directory lacking one plugin)."""
        self.plugin_dir = path
        self.argv = [a if not a.startswith("--plugin-dir=") else "--plugin-dir=" + path for a in self.argv]

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

    def vhostctl_argv(self, *args, output="table"):
        """The command line of vhostctl against this daemon."""
        return [_repo_file("client/vhostctl"), "--server", "unix:" + self.grpc_socket, "-o", output] + list(args)

    def vhostctl(self, *args, check=True, output="table"):
        """Runs vhostctl against this daemon; returns CompletedProcess (text)."""
        argv = self.vhostctl_argv(*args, output=output)
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
