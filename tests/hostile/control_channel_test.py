"""Hostile vhost-user frontends against the control channel (frame and checks:
hostile_port_case.py). lib/vhost serves every socket from one event thread; none of
these frontends may hold it, so while each one misbehaves another port must take a new
frontend within a bound and the API must answer.

Each frontend that lib/vhost drops while it is still connected puts h0 in ERROR with
that reason, counted once in dropped_control_channels; one that hangs up does not.

Cases: a header that announces a payload that never comes, a payload cut short, a
truncated header, a size that lies, unknown requests, a frontend that floods requests
and never reads the replies, hundreds of rapid connects (held ones beyond two per
socket are hung up on).
"""

import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_port_case import API_DEADLINE, HostilePortCase, api, say, vu  # noqa: E402

# vhostd bounds a blocked read or send on a control channel at 1 s (control_channel.h);
# a well-behaved frontend elsewhere may wait that long, plus its own handshake.
STALL_BOUND = 1.0
HANDSHAKE_SLACK = 1.5
# h0's reason when lib/vhost drops a frontend that is still connected (vhost_lib.c).
BAD_MESSAGE = "malformed or refused message, or stalled mid-message"


class ControlChannelTest(HostilePortCase):
    PREFIX = "hostctl"

    def spare_while_stalled(self):
        """Another port takes a frontend (and the API answers) while h0's peer stalls."""
        started = time.time()
        spare, spare_mem = self.good_frontend("spare")
        took = time.time() - started
        spare.close()
        spare_mem.close()
        self.wait_state("spare", api.PortStatus.WAITING_FOR_PEER)
        self.assertLess(took, STALL_BOUND + HANDSHAKE_SLACK, "spare's handshake waited for h0's peer")
        self.call("ListPorts", api.ListPortsRequest())
        say("spare took a frontend in %.2f s meanwhile" % took)

    def stalled(self, send_part):
        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.get_features()
                started = time.time()
                send_part(fe)
                self.spare_while_stalled()
                self.assertTrue(fe.closed(STALL_BOUND + 2), "vhostd kept a stalled connection")
                say("the stalled connection was dropped after %.2f s" % (time.time() - started))
        self.dropped_with_reason(attack)

    def dropped_with_reason(self, attack):
        """h0 goes to ERROR naming the dropped control channel, counted once."""
        before, after = self.run_case(attack, BAD_MESSAGE)
        self.assertEqual(after.dropped_control_channels, before.dropped_control_channels + 1)

    def test_header_announcing_a_payload_that_never_comes(self):
        self.stalled(lambda fe: fe.sock.sendall(vu.HEADER.pack(vu.SET_FEATURES, vu.VERSION, 8)))

    def test_payload_cut_short(self):
        mem = vu.GuestMemory(1 << 20)

        def send_part(fe):
            table = fe.mem_table_payload([mem.region()])
            fe.sock.sendmsg([vu.HEADER.pack(vu.SET_MEM_TABLE, vu.VERSION, len(table))],
                           [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", mem.fd))])
            fe.sock.sendall(table[:12])
        self.stalled(send_part)
        mem.close()

    def test_truncated_header(self):
        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.sock.sendall(vu.HEADER.pack(vu.GET_FEATURES, vu.VERSION, 0)[:6])
                self.spare_while_stalled()
                self.assertTrue(fe.closed(STALL_BOUND + 2), "vhostd kept the connection")
        self.dropped_with_reason(attack)

    def test_size_that_lies(self):
        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                try:
                    fe.send_raw(vu.SET_FEATURES, struct.pack("<Q", 0), size=0xFFFFFFFF)
                except BrokenPipeError:
                    pass  # vhostd hung up after the header, before the payload went out
                self.assertTrue(fe.closed(5), "vhostd kept the connection")
        self.dropped_with_reason(attack)

    def test_unknown_requests(self):
        def attack():
            for request in (0, 77, 0x7FFFFFFF):
                with vu.Frontend.connect(self.sock("h0")) as fe:
                    fe.send_raw(request, b"\0" * 8, flags=vu.VERSION | vu.NEED_REPLY)
                    # lib/vhost answers "failed" or hangs up; either way nothing else moves.
                    self.assertTrue(fe.closed(5) or self.daemon.proc.poll() is None)
        self.run_case(attack, None)

    def test_flood_of_requests_whose_replies_are_never_read(self):
        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                flood = vu.HEADER.pack(vu.GET_FEATURES, vu.VERSION, 0) * 20000
                fe.sock.settimeout(10)
                try:
                    fe.sock.sendall(flood)  # vhostd drops us before taking it all, or takes it
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    pass
                self.spare_while_stalled()
                # Only now read: what is buffered, then the end of the connection.
                fe.sock.settimeout(None)
                self.assertTrue(fe.closed(STALL_BOUND + 3), "vhostd kept a peer that does not read")
        before, after = self.run_case(attack, "does not read its replies")
        self.assertEqual(after.dropped_control_channels, before.dropped_control_channels + 1)

    def test_hundreds_of_rapid_connects(self):
        def attack():
            started = time.time()
            refused_before = self.type_status("h0").refused_connections
            for _ in range(300):  # connect and hang up at once
                vu.Frontend.connect(self.sock("h0")).close()
            # Held: a socket carries at most two connections; vhostd hangs up on the rest,
            # so one frontend cannot take other ports' room in lib/vhost's descriptor set.
            held = [vu.Frontend.connect(self.sock("h0")) for _ in range(200)]
            self.spare_while_stalled()
            dropped = [fe for fe in held if fe.closed(0.05)]
            self.assertGreaterEqual(len(dropped), 198)
            self.assertLessEqual(self.type_status("h0").frontend_connections, 2)
            for fe in held:
                fe.close()
            deadline = time.time() + 10
            while self.type_status("h0").frontend_connections:
                self.assertLess(time.time(), deadline, "connections still counted")
                time.sleep(0.05)
            refused = self.type_status("h0").refused_connections - refused_before
            self.assertGreaterEqual(refused, 198)
            say("500 connects in %.2f s; %d held ones hung up on, %d refused in all" %
                (time.time() - started, len(dropped), refused))
        self.run_case(attack, None)

if __name__ == "__main__":
    unittest.main(verbosity=2)
