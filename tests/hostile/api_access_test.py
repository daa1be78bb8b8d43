"""Who may reach the daemon, against a real vhostd started under umask 000.

- The gRPC Unix socket is 0660 with --grpc-socket-group; peers are checked with
  SO_PEERCRED: a user that gets past the file mode (CAP_DAC_OVERRIDE) but is not allowed
  is closed before a byte of HTTP/2 and counted in vhostd_api_refused_connections_total;
  an allowed uid and a member of the socket's group get the server's HTTP/2 SETTINGS;
  anyone else cannot connect at all (EACCES).
- vhost-user sockets take --socket-mode (default 0660) and per-port socket_mode /
  socket_group, never the umask.
- The TCP API with mutual TLS (certificates made with openssl here): a client with a
  certificate from the client CA is served (Python gRPC and vhostctl); no certificate,
  one from another CA and an expired one are refused. Plaintext TCP only with
  --insecure-listen-loopback, which refuses a non-loopback address.
- A second daemon on the same --grpc-socket refuses to start, names the first one's
  pid, and leaves the first one serving.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testlib"))
from prometheus_server import free_port, scrape  # noqa: E402
from testpmd import short_tmpdir  # noqa: E402
from vhostd_proc import Vhostd, VhostdError, _repo_file, import_api, vhost_user_port  # noqa: E402

api = import_api()
SOCKET_GROUP = 2345     # --grpc-socket-group and one port's socket_group
ALLOWED_UID = 1234      # --grpc-allowed-uids
STRANGER_UID = 1235     # not allowed anywhere

# Sent by the probe: the HTTP/2 client preface and an empty SETTINGS frame.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
PROBE = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
try:  # a refused peer is closed at once: the send or the read fails, or reads EOF
    s.sendall(bytes.fromhex(sys.argv[2]))
    data = s.recv(64)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    data = b""
# An HTTP/2 frame header: 3 bytes length, then the type (4: SETTINGS).
print("SETTINGS" if len(data) >= 9 and data[3] == 4 else "CLOSED")
"""


def say(message):
    print("CHECK: " + message, flush=True)


def probe_as(path, uid, gid, dac_override=False):
    """Connects to `path` as uid:gid (no supplementary groups): EACCES, CLOSED or SETTINGS."""
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"]
    if dac_override:
        argv += ["--inh-caps=+dac_override", "--ambient-caps=+dac_override"]
    argv += ["/usr/bin/python3", "-c", PROBE, path, H2_PREFACE.hex()]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("probe as %d:%d failed: %s" % (uid, gid, out.stderr))
    return out.stdout.strip()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


class Pki:
    """A client CA, another CA, and certificates made with openssl: the server's (for
    localhost and 127.0.0.1), a good client's, a client's from the other CA, and an
    expired client certificate from the right CA."""

    def __init__(self, d):
        self.d = d
        self._ca("ca")
        self._ca("other-ca")
        self._cert("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
        self._cert("client", "ca", "extendedKeyUsage=clientAuth")
        self._cert("stranger", "other-ca", "extendedKeyUsage=clientAuth")
        self._expired("expired", "ca")

    def path(self, name):
        return os.path.join(self.d, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def _key_and_csr(self, name):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"), "-subj", "/CN=" + name)

    def _ca(self, name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".crt"), "-subj", "/CN=vhostd test " + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _cert(self, name, ca, extensions):
        self._key_and_csr(name)
        with open(self.path(name + ".ext"), "w") as f:
            f.write(extensions + "\n")
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".crt"),
                "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-days", "2", "-sha256",
                "-extfile", self.path(name + ".ext"), "-out", self.path(name + ".crt"))

    def _expired(self, name, ca):
        # `openssl x509` only signs from now on; `openssl ca` takes explicit dates.
        self._key_and_csr(name)
        db = self.path("ca-db")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        with open(self.path("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = test\n[test]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                    "serial = %s/serial\ndefault_md = sha256\npolicy = any\nx509_extensions = client\n"
                    "[any]\ncommonName = supplied\n[client]\nextendedKeyUsage = clientAuth\n" % (db, db, db))
        openssl("ca", "-batch", "-notext", "-config", self.path("ca.cnf"), "-cert", self.path(ca + ".crt"),
                "-keyfile", self.path(ca + ".key"), "-in", self.path(name + ".csr"), "-out", self.path(name + ".crt"),
                "-startdate", "20200101000000Z", "-enddate", "20200102000000Z")


def start_refused(workdir, flags, timeout=60):
    """Runs a vhostd that must refuse to start: returns its output."""
    d = Vhostd(workdir, extra_flags=flags, file_prefix="apiref%d" % os.getpid())
    out = subprocess.run(d.argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode == 0:
        raise AssertionError("vhostd %s started (exit 0)" % " ".join(flags))
    return out.stdout + out.stderr


class ApiAccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = short_tmpdir("apiacc")
        os.chmod(cls.workdir, 0o755)  # the probes run as other users
        cls.pki = Pki(tempfile.mkdtemp(dir=cls.workdir))
        cls.tls_port = free_port()
        cls.metrics_port = free_port()
        flags = ["--metrics-address=127.0.0.1:%d" % cls.metrics_port,
                 "--grpc-socket-group=%d" % SOCKET_GROUP, "--grpc-allowed-uids=%d" % ALLOWED_UID,
                 "--grpc-listen=127.0.0.1:%d" % cls.tls_port, "--tls-cert=" + cls.pki.path("server.crt"),
                 "--tls-key=" + cls.pki.path("server.key"), "--tls-client-ca=" + cls.pki.path("ca.crt")]
        cls.daemon = Vhostd(os.path.join(cls.workdir, "d1"), file_prefix="apiacc%d" % os.getpid(), extra_flags=flags)
        old_umask = os.umask(0)
        try:
            cls.daemon.start()
        finally:
            os.umask(old_umask)
        cls.stub = cls.daemon.stub()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def refused_connections(self):
        _, _, body = scrape("http://127.0.0.1:%d/metrics" % self.metrics_port)
        for line in body.splitlines():
            if line.startswith("vhostd_api_refused_connections_total"):
                return float(line.split()[-1])
        self.fail("vhostd_api_refused_connections_total not in /metrics")

    # --- Unix socket -----------------------------------------------------------------

    def test_api_socket_mode_and_group(self):
        st = os.stat(self.daemon.grpc_socket)
        self.assertEqual(st.st_mode & 0o777, 0o660, "API socket mode under umask 000")
        self.assertEqual(st.st_gid, SOCKET_GROUP)
        say("API socket is 0660, group %d, under umask 000" % SOCKET_GROUP)

    def test_peer_credentials(self):
        path = self.daemon.grpc_socket
        before = self.refused_connections()
        self.assertEqual(probe_as(path, STRANGER_UID, STRANGER_UID, dac_override=True), "CLOSED",
                         "a user past the file mode but not allowed must be closed by SO_PEERCRED")
        self.assertEqual(self.refused_connections(), before + 1)
        self.assertEqual(probe_as(path, ALLOWED_UID, ALLOWED_UID, dac_override=True), "SETTINGS",
                         "--grpc-allowed-uids")
        self.assertEqual(probe_as(path, STRANGER_UID, SOCKET_GROUP), "SETTINGS", "a member of --grpc-socket-group")
        self.assertEqual(probe_as(path, STRANGER_UID, STRANGER_UID), "EACCES", "others: file mode 0660")
        self.assertEqual(self.refused_connections(), before + 1)
        self.stub.ListPorts(api.ListPortsRequest(), timeout=5)  # and the daemon still serves
        say("SO_PEERCRED: stranger closed and counted, allowed uid and socket group served, others EACCES")

    def test_rapid_refused_connections_keep_the_api_serving(self):
        before = self.refused_connections()
        argv = ["setpriv", "--reuid=%d" % STRANGER_UID, "--regid=%d" % STRANGER_UID, "--clear-groups",
                "--inh-caps=+dac_override", "--ambient-caps=+dac_override", "/usr/bin/python3", "-c",
                "import socket, sys\nfor _ in range(200):\n s = socket.socket(socket.AF_UNIX)\n"
                " s.connect(sys.argv[1]); s.close()\n", self.daemon.grpc_socket]
        subprocess.run(argv, check=True, timeout=60)
        t0 = time.monotonic()
        self.stub.ListPorts(api.ListPortsRequest(), timeout=5)
        deadline = time.monotonic() + 10
        while self.refused_connections() < before + 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.refused_connections(), before + 200)
        say("200 refused connections counted; ListPorts answered in %.0f ms" % ((time.monotonic() - t0) * 1000))

    # --- vhost-user sockets ------------------------------------------------------------

    def test_vhost_user_socket_modes(self):
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port("dflt", socket_path="dflt.sock")), timeout=10)
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(
            "tight", socket_path="tight.sock", socket_mode="0600")), timeout=10)
        self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(
            "grp", socket_path="grp.sock", socket_mode="0660", socket_group=str(SOCKET_GROUP))), timeout=10)
        try:
            modes = {}
            for name in ("dflt", "tight", "grp"):
                st = os.stat(os.path.join(self.daemon.socket_dir, name + ".sock"))
                modes[name] = (st.st_mode & 0o777, st.st_gid)
            self.assertEqual(modes["dflt"], (0o660, 0))
            self.assertEqual(modes["tight"], (0o600, 0))
            self.assertEqual(modes["grp"], (0o660, SOCKET_GROUP))
            with self.assertRaises(grpc.RpcError) as bad:
                self.stub.CreatePort(api.CreatePortRequest(port=vhost_user_port(
                    "bad", socket_path="bad.sock", socket_mode="0778")), timeout=10)
            self.assertEqual(bad.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("socket_mode", bad.exception.details())
            self.assertFalse(os.path.exists(os.path.join(self.daemon.socket_dir, "bad.sock")))
            say("vhost-user sockets under umask 000: %s; a bad socket_mode is refused naming the field" %
                ", ".join("%s %04o gid %d" % (n, m, g) for n, (m, g) in sorted(modes.items())))
        finally:
            for name in ("dflt", "tight", "grp"):
                self.stub.DeletePort(api.DeletePortRequest(name=name), timeout=10)

    # --- TCP with mutual TLS -----------------------------------------------------------

    def tls_call(self, cert=None, ca="ca.crt"):
        """ListPorts over TLS with the client certificate `cert` (or none)."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.pki.read(ca),
            private_key=self.pki.read(cert + ".key") if cert else None,
            certificate_chain=self.pki.read(cert + ".crt") if cert else None)
        channel = grpc.secure_channel("127.0.0.1:%d" % self.tls_port, creds,
                                      options=[("grpc.ssl_target_name_override", "localhost")])
        try:
            return api.VhostdStub(channel).ListPorts(api.ListPortsRequest(), timeout=5)
        finally:
            channel.close()

    def test_mutual_tls(self):
        self.tls_call("client")
        for cert, why in ((None, "no client certificate"), ("stranger", "a certificate from another CA"),
                          ("expired", "an expired certificate")):
            with self.assertRaises(grpc.RpcError, msg=why) as refused:
                self.tls_call(cert)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE, why)
        with self.assertRaises(grpc.RpcError) as wrong_server:
            self.tls_call("client", ca="other-ca.crt")  # the client checks the server too
        self.assertEqual(wrong_server.exception.code(), grpc.StatusCode.UNAVAILABLE)
        say("mutual TLS: good client served; no certificate, other CA, expired refused; server checked by client")

    def test_vhostctl_over_tls(self):
        argv = [_repo_file("client/vhostctl"), "--server", "127.0.0.1:%d" % self.tls_port,
                "--tls-ca", self.pki.path("ca.crt"), "--tls-cert", self.pki.path("client.crt"),
                "--tls-key", self.pki.path("client.key"), "--tls-server-name", "localhost", "port", "list"]
        good = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(good.returncode, 0, good.stderr)
        bad = subprocess.run(argv[:5] + argv[9:], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(bad.returncode, 0, "vhostctl without a client certificate")
        say("vhostctl over mutual TLS: served; without --tls-cert/--tls-key refused (%s)" %
            bad.stderr.strip().splitlines()[-1][:80])

    # --- start-up refusals -------------------------------------------------------------

    def test_second_daemon_refused(self):
        second = os.path.join(self.workdir, "d2")
        os.makedirs(second, exist_ok=True)
        flags = ["--metrics-address=", "--grpc-socket=" + self.daemon.grpc_socket]
        out = start_refused(second, flags)
        self.assertIn("--grpc-socket", out)
        self.assertIn("pid %d" % self.daemon.proc.pid, out)
        self.assertTrue(os.path.exists(self.daemon.grpc_socket), "the first daemon's socket is gone")
        self.stub.ListPorts(api.ListPortsRequest(), timeout=5)
        say("second daemon on the same --grpc-socket refused: %s" % out.strip().splitlines()[-1][:120])

    def test_plaintext_tcp_needs_loopback_and_the_flag(self):
        d = os.path.join(self.workdir, "d3")
        os.makedirs(d, exist_ok=True)
        out = start_refused(d, ["--metrics-address=", "--grpc-listen=127.0.0.1:%d" % free_port()])
        self.assertIn("--tls-cert", out)
        out = start_refused(d, ["--metrics-address=", "--grpc-listen=0.0.0.0:%d" % free_port(),
                                "--insecure-listen-loopback"])
        self.assertIn("--insecure-listen-loopback", out)
        port = free_port()
        plain = Vhostd(d, file_prefix="apiplain%d" % os.getpid(),
                       extra_flags=["--metrics-address=", "--grpc-listen=127.0.0.1:%d" % port,
                                    "--insecure-listen-loopback"])
        plain.start()
        try:
            channel = grpc.insecure_channel("127.0.0.1:%d" % port)
            api.VhostdStub(channel).ListPorts(api.ListPortsRequest(), timeout=5)
            channel.close()
        finally:
            plain.stop()
        say("--grpc-listen without TLS refused; --insecure-listen-loopback refuses 0.0.0.0, serves 127.0.0.1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
