#!/usr/bin/python3
"""One TCP bulk transfer end, for tests that run it inside a network namespace
(`ip netns exec NS tcp_probe.py ...`). Prints "listening" once bound (recv), then
"<bytes> <sha256>" of what it received or sent.

    tcp_probe.py recv ADDR PORT [TIMEOUT]
    tcp_probe.py send ADDR PORT NBYTES [TIMEOUT]
"""

import hashlib
import os
import socket
import sys


def recv(addr, port, timeout=120.0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(timeout)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(timeout)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def send(addr, port, nbytes, timeout=120.0):
    data = os.urandom(nbytes)
    c = socket.create_connection((addr, port), timeout=timeout)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)  # the receiver closes once it has everything
    c.close()
    print(len(data), hashlib.sha256(data).hexdigest(), flush=True)


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "recv":
        recv(addr, port, *map(float, sys.argv[4:5]))
    else:
        send(addr, port, int(sys.argv[4]), *map(float, sys.argv[5:6]))
