"""A vhost-user frontend that can speak the protocol badly, for hostile-peer tests.

Standard library only (Linux, Python >= 3.10 for os.eventfd and os.memfd_create).

    from vhost_user_client import Frontend, GuestMemory

    mem = GuestMemory(2 << 20)                    # a memfd the "guest" owns, mapped here too
    with Frontend.connect(socket_path) as fe:
        fe.handshake(mem)                         # features, owner, mem table, two split rings
        fe.tx.send(mem.offset_of_buffer(0), b"\\xff" * 60)   # post a packet for the backend
        mem.truncate(4096)                        # pull the memory away under the backend
        fe.closed(timeout=5)                      # True once the backend hung up

Everything a well-behaved frontend does is a method (get_features, set_mem_table,
set_vring_addr, ...). Every message can also be sent raw (send_raw: any request, flags,
announced size, payload and fds), so tests can lie about sizes, counts and addresses.

Layout of GuestMemory: guest physical address 0 is offset 0 of the memfd; the frontend's
"user space address" of gpa 0 is GUEST_UADDR (what vring addresses are given in, as QEMU
does). Each ring's descriptor table, avail and used rings live in the first RING_AREA
bytes; packet buffers follow at BUFFERS.
"""

import mmap
import os
import select
import socket
import struct
import time

# Requests (frontend -> backend), as in the vhost-user specification.
GET_FEATURES = 1
SET_FEATURES = 2
SET_OWNER = 3
RESET_OWNER = 4
SET_MEM_TABLE = 5
SET_LOG_BASE = 6
SET_LOG_FD = 7
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
GET_VRING_BASE = 11
SET_VRING_KICK = 12
SET_VRING_CALL = 13
SET_VRING_ERR = 14
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
GET_QUEUE_NUM = 17
SET_VRING_ENABLE = 18

VERSION = 0x1
REPLY = 0x4
NEED_REPLY = 0x8
HEADER = struct.Struct("<III")  # request, flags, payload size
MAX_REGIONS = 8                 # VHOST_MEMORY_MAX_NREGIONS
REGION = struct.Struct("<QQQQ")  # guest_phys_addr, memory_size, userspace_addr, mmap_offset

VIRTIO_F_VERSION_1 = 1 << 32
VHOST_USER_F_PROTOCOL_FEATURES = 1 << 30
NET_HDR_LEN = 12  # virtio_net_hdr with num_buffers (VERSION_1)

GUEST_UADDR = 0x7F0000000000
QUEUE_SIZE = 256
RING_AREA = 64 << 10  # per ring: desc 4 KiB, avail, used (page aligned)
BUFFERS = 2 * RING_AREA
BUFFER_SIZE = 2048

DESC = struct.Struct("<QIHH")  # addr, len, flags, next
VRING_USED_F_NO_NOTIFY = 1
DESC_F_WRITE = 2


class ProtocolError(Exception):
    pass


class GuestMemory:
    """A memfd standing in for guest RAM, mapped into this process to write rings."""

    def __init__(self, size, name="guest"):
        self.size = size
        self.fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(self.fd, size)
        self.map = mmap.mmap(self.fd, size)

    def region(self, gpa=0, size=None, mmap_offset=0, uaddr=GUEST_UADDR):
        """One SET_MEM_TABLE region (a tuple for Frontend.set_mem_table)."""
        return (gpa, self.size if size is None else size, uaddr, mmap_offset)

    def uaddr(self, offset):
        return GUEST_UADDR + offset

    def truncate(self, size):
        """Shrinks the memfd under the backend. Only offsets below `size` may be written here
        afterwards (touching the rest would fault in this process too)."""
        os.ftruncate(self.fd, size)
        self.size = min(self.size, size)

    def seal_size(self):
        import fcntl
        fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)

    def write(self, offset, data):
        self.map[offset:offset + len(data)] = data

    def read(self, offset, length):
        return bytes(self.map[offset:offset + length])

    def close(self):
        # The map may cover truncated pages; closing does not touch them.
        self.map.close()
        os.close(self.fd)


class SplitRing:
    """A split virtqueue in GuestMemory at `base` (desc, then avail at +4 KiB, used at +8 KiB)."""

    def __init__(self, mem, index, base, size=QUEUE_SIZE):
        self.mem, self.index, self.size, self.base = mem, index, size, base
        self.desc, self.avail, self.used = base, base + 4096, base + 8192
        self.avail_idx = 0
        self.kick = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.call = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        mem.write(base, bytes(3 * 4096))

    def addresses(self):
        """(desc, used, avail) as the frontend's user addresses, SET_VRING_ADDR's order."""
        return self.mem.uaddr(self.desc), self.mem.uaddr(self.used), self.mem.uaddr(self.avail)

    def post(self, gpa, length, writable=False, head=None):
        """Puts one descriptor (guest physical `gpa`, `length`) in the avail ring."""
        head = self.avail_idx % self.size if head is None else head
        self.mem.write(self.desc + 16 * head, DESC.pack(gpa, length, DESC_F_WRITE if writable else 0, 0))
        self.mem.write(self.avail + 4 + 2 * (self.avail_idx % self.size), struct.pack("<H", head))
        self.set_avail_idx(self.avail_idx + 1)

    def send(self, gpa, frame):
        """Writes a virtio-net header and `frame` at `gpa` and posts it."""
        self.mem.write(gpa, bytes(NET_HDR_LEN) + frame)
        self.post(gpa, NET_HDR_LEN + len(frame))

    def set_avail_idx(self, idx):
        """Publishes avail->idx (any value: tests make it jump)."""
        self.avail_idx = idx & 0xFFFF
        self.mem.write(self.avail + 2, struct.pack("<H", self.avail_idx))
        os.eventfd_write(self.kick, 1)

    def used_idx(self):
        return struct.unpack("<H", self.mem.read(self.used + 2, 2))[0]

    def wait_used(self, idx, timeout=5.0):
        """True once used->idx reached `idx` (the backend took the posted buffers)."""
        deadline = time.time() + timeout
        while self.used_idx() != idx:
            if time.time() > deadline:
                return False
            time.sleep(0.01)
        return True

    def used_flags(self):
        """used->flags: the backend's VRING_USED_F_NO_NOTIFY asks for no kicks."""
        return struct.unpack("<H", self.mem.read(self.used, 2))[0]

    def close(self):
        os.close(self.kick)
        os.close(self.call)


class Frontend:
    """One vhost-user connection, the frontend (driver) side."""

    def __init__(self, sock):
        self.sock = sock
        self.rings = []

    @classmethod
    def connect(cls, path, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return cls(sock)
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for ring in self.rings:
            ring.close()
        self.rings = []
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # --- raw messages ----------------------------------------------------------------

    def send_raw(self, request, payload=b"", flags=VERSION, size=None, fds=()):
        """Sends a header announcing `size` (default: the payload's length), the payload and
        `fds` (SCM_RIGHTS, with the header as lib/vhost reads them)."""
        header = HEADER.pack(request, flags, len(payload) if size is None else size)
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
        self.sock.sendmsg([header], ancillary)
        if payload:
            self.sock.sendall(payload)

    def recv_reply(self, request, timeout=5.0):
        """The backend's reply to `request`: its payload bytes."""
        self.sock.settimeout(timeout)
        try:
            header = self._recv_exact(HEADER.size)
            got, flags, size = HEADER.unpack(header)
            payload = self._recv_exact(size) if size else b""
        finally:
            self.sock.settimeout(None)
        if got != request or not flags & REPLY:
            raise ProtocolError("expected the reply to %d, got request %d flags %#x" % (request, got, flags))
        return payload

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ProtocolError("the backend closed the connection")
            data += chunk
        return data

    def call(self, request, payload=b"", fds=()):
        """Sends with NEED_REPLY (REPLY_ACK) and returns the backend's u64 answer (0: ok)."""
        self.send_raw(request, payload, flags=VERSION | NEED_REPLY, fds=fds)
        return struct.unpack("<Q", self.recv_reply(request))[0]

    def closed(self, timeout=5.0):
        """True once the backend closed the connection (within `timeout`)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.time()))
            if not readable:
                continue
            try:
                if self.sock.recv(4096, socket.MSG_DONTWAIT) == b"":
                    return True
            except BlockingIOError:
                continue
            except ConnectionResetError:
                return True
        return False

    # --- the protocol, spoken correctly --------------------------------------------------

    def get_u64(self, request):
        self.send_raw(request)
        return struct.unpack("<Q", self.recv_reply(request))[0]

    def get_features(self):
        return self.get_u64(GET_FEATURES)

    def set_features(self, features):
        self.send_raw(SET_FEATURES, struct.pack("<Q", features))

    def set_owner(self):
        self.send_raw(SET_OWNER)

    def mem_table_payload(self, regions, nregions=None):
        count = len(regions) if nregions is None else nregions
        return struct.pack("<II", count, 0) + b"".join(REGION.pack(*r) for r in regions)

    def set_mem_table(self, regions, fds, nregions=None, need_reply=False):
        """Sends SET_MEM_TABLE with `regions` (tuples of GuestMemory.region) and `fds`;
        `nregions` may lie about the count."""
        payload = self.mem_table_payload(regions, nregions)
        self.send_raw(SET_MEM_TABLE, payload, flags=VERSION | (NEED_REPLY if need_reply else 0), fds=fds)

    def set_vring_num(self, index, num):
        self.send_raw(SET_VRING_NUM, struct.pack("<II", index, num))

    def set_vring_base(self, index, base):
        self.send_raw(SET_VRING_BASE, struct.pack("<II", index, base))

    def set_vring_addr(self, index, desc, used, avail, flags=0, log=0):
        self.send_raw(SET_VRING_ADDR, struct.pack("<IIQQQQ", index, flags, desc, used, avail, log))

    def set_vring_fd(self, request, index, fd):
        self.send_raw(request, struct.pack("<Q", index), fds=(fd,))

    def set_protocol_features(self, features):
        self.send_raw(SET_PROTOCOL_FEATURES, struct.pack("<Q", features))

    def set_vring_enable(self, index, enable):
        self.send_raw(SET_VRING_ENABLE, struct.pack("<II", index, 1 if enable else 0))

    def setup_ring(self, ring):
        self.set_vring_num(ring.index, ring.size)
        self.set_vring_base(ring.index, 0)
        self.set_vring_addr(ring.index, *ring.addresses())
        self.set_vring_fd(SET_VRING_CALL, ring.index, ring.call)
        self.set_vring_fd(SET_VRING_KICK, ring.index, ring.kick)

    def handshake(self, mem, regions=None, fds=None, features=VIRTIO_F_VERSION_1):
        """What a minimal virtio-net driver does: features (no protocol features, so rings
        are enabled by their kick fd), owner, memory table, receive ring 0 and transmit
        ring 1. Returns the backend's offered features. Sets self.rx and self.tx."""
        offered = self.get_features()
        if features & ~offered:
            raise ProtocolError("backend does not offer %#x (offers %#x)" % (features, offered))
        self.set_features(features)
        self.set_owner()
        self.set_mem_table(regions or [mem.region()], fds or [mem.fd])
        self.rx = SplitRing(mem, 0, 0)
        self.tx = SplitRing(mem, 1, RING_AREA)
        self.rings = [self.rx, self.tx]
        for ring in self.rings:
            self.setup_ring(ring)
        # Round trip: every message above has been handled once this answers.
        self.get_features()
        return offered


def buffer_gpa(n):
    """Guest physical address of packet buffer `n` of a GuestMemory."""
    return BUFFERS + n * BUFFER_SIZE


def open_fds(pid="self"):
    """The process's open descriptors (for leak checks)."""
    return len(os.listdir("/proc/%s/fd" % pid))
