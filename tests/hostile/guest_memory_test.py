"""Hostile vhost-user frontends against guest memory (frame and checks: hostile_port_case.py).

Cases: a region larger than the file behind it, size 0, offset overflow, absurd region
counts and sizes, a payload shorter than its region count, a memfd truncated after the
handshake while the port is polled (ring buffers past the new end, and the rings
themselves), descriptors outside guest memory, avail ring indices that jump. And a
well-behaved frontend's rings are marked as not needing kicks.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_port_case import HostilePortCase, api, vu  # noqa: E402


class GuestMemoryTest(HostilePortCase):
    PREFIX = "hostmem"

    def refused_table(self, regions, fds, expect, nregions=None, size=None):
        """A frontend whose SET_MEM_TABLE must be refused with `expect`, all fds closed."""
        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.get_features()
                fe.set_features(vu.VIRTIO_F_VERSION_1)
                fe.set_owner()
                payload = fe.mem_table_payload(regions, nregions)
                fe.send_raw(vu.SET_MEM_TABLE, payload[:size] if size is not None else payload, fds=fds)
                self.assertTrue(fe.closed(5), "vhostd kept the connection")
        before, after = self.run_case(attack, expect)
        self.assertEqual(after.refused_memory_tables, before.refused_memory_tables + 1)

    # --- memory tables refused before lib/vhost maps them --------------------------------

    def test_region_larger_than_its_file(self):
        mem = vu.GuestMemory(4096)
        self.refused_table([mem.region(size=2 << 20)], [mem.fd],
                           "region 0: mmap_offset + memory_size is 0x200000 bytes, its file has only 0x1000")
        mem.close()

    def test_region_of_size_zero(self):
        # lib/vhost 22.11 refuses this too, but leaks the region's fd (the baseline check).
        mem = vu.GuestMemory(1 << 20)
        self.refused_table([mem.region(size=0)], [mem.fd], "region 0: memory_size is 0")
        mem.close()

    def test_offset_overflow(self):
        mem = vu.GuestMemory(1 << 20)
        self.refused_table([mem.region(mmap_offset=(1 << 64) - 4096)], [mem.fd], "overflows")
        mem.close()

    def test_absurd_size(self):
        mem = vu.GuestMemory(1 << 20)
        self.refused_table([mem.region(size=1 << 60)], [mem.fd], "its file has only 0x100000")
        mem.close()

    def test_absurd_region_counts(self):
        mems = [vu.GuestMemory(1 << 20) for _ in range(3)]
        regions = [m.region(gpa=i << 20) for i, m in enumerate(mems)]
        fds = [m.fd for m in mems]
        self.refused_table(regions, fds, "9 regions, at most 8", nregions=9)
        self.refused_table(regions, fds, "4294967295 regions, at most 8", nregions=0xFFFFFFFF)
        self.refused_table(regions, fds[:2], "3 regions but 2 file descriptors")
        # The count says 3, the payload carries one region: lib/vhost would read stale stack.
        self.refused_table(regions, fds, "payload of 40 bytes is too short for 3 regions", size=8 + 32)
        for m in mems:
            m.close()

    def test_file_that_is_not_memory(self):
        read_end, write_end = os.pipe()
        mem = vu.GuestMemory(1 << 20)
        self.refused_table([mem.region()], [read_end], "not a regular file")
        for fd in (read_end, write_end):
            os.close(fd)
        mem.close()

    # --- memory taken away after the handshake (SIGBUS) ---------------------------------

    def truncated(self, truncate_to, post_past_end):
        mem = vu.GuestMemory(2 << 20)

        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.handshake(mem)
                self.wait_state("h0", api.PortStatus.UP)
                fe.tx.send(vu.buffer_gpa(0), b"\xff" * 60)  # polled: the packet is taken
                self.assertTrue(fe.tx.wait_used(1), "h0 is not polled")
                mem.truncate(truncate_to)
                if post_past_end:
                    fe.tx.post(vu.buffer_gpa(100), 72)  # a buffer past the new end
                else:
                    os.eventfd_write(fe.tx.kick, 1)  # the rings themselves are gone
                self.assertTrue(fe.closed(5), "vhostd kept the connection")
        before, after = self.run_case(attack, "guest memory truncated by the frontend")
        self.assertGreater(after.guest_memory_faults, before.guest_memory_faults)
        mem.close()

    def test_memfd_truncated_under_a_polled_port_buffers_past_the_end(self):
        self.truncated(vu.BUFFERS, post_past_end=True)

    def test_memfd_truncated_under_a_polled_port_rings_gone(self):
        self.truncated(0, post_past_end=False)

    # --- rings that lie (lib/vhost bounds them; nothing to refuse) ----------------------

    def test_descriptors_outside_guest_memory(self):
        mem = vu.GuestMemory(2 << 20)

        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.handshake(mem)
                self.wait_state("h0", api.PortStatus.UP)
                for gpa in (1 << 40, (2 << 20) - 8, (1 << 64) - 64):
                    fe.tx.post(gpa, 1500)
                fe.rx.post(1 << 40, 2048, writable=True)
                time.sleep(0.5)
                self.assertIsNone(self.daemon.proc.poll())
                self.assertEqual(self.port("h0").status.state, api.PortStatus.UP)
                self.assertFalse(fe.closed(0.1))
        self.run_case(attack, None)
        mem.close()

    def test_polled_rings_ask_for_no_kicks(self):
        # vhostd polls every ring: a frontend kicking after each post (a VM exit for a
        # QEMU guest) would only slow itself down.
        fe, mem = self.good_frontend("h0")
        fe.tx.send(vu.buffer_gpa(0), b"\xff" * 60)
        self.assertTrue(fe.tx.wait_used(1), "h0 is not polled")
        for ring in fe.rings:
            self.assertTrue(ring.used_flags() & vu.VRING_USED_F_NO_NOTIFY, "ring %d wants kicks" % ring.index)
        fe.close()
        mem.close()
        self.wait_state("h0", api.PortStatus.WAITING_FOR_PEER)

    def test_rings_enabled_later_ask_for_no_kicks_too(self):
        # As a multiqueue guest does: every ring set up first, a second queue pair enabled
        # after the device started (lib/vhost applies the setting when a ring is ready).
        mem = vu.GuestMemory(1 << 20)
        with vu.Frontend.connect(self.sock("h0")) as fe:
            fe.get_features()
            fe.set_features(vu.VIRTIO_F_VERSION_1 | vu.VHOST_USER_F_PROTOCOL_FEATURES)
            fe.get_u64(vu.GET_PROTOCOL_FEATURES)
            fe.set_protocol_features(0)
            fe.set_owner()
            fe.set_mem_table([mem.region()], [mem.fd])
            # Pair 0 where handshake() puts it, pair 1 in the upper half of the memory.
            bases = (0, vu.RING_AREA, 1 << 19, (1 << 19) + vu.RING_AREA)
            rings = [vu.SplitRing(mem, i, base) for i, base in enumerate(bases)]
            for ring in rings:
                fe.setup_ring(ring)
            for ring in rings[:2]:
                fe.set_vring_enable(ring.index, True)
            fe.get_features()
            self.wait_state("h0", api.PortStatus.UP)
            for ring in rings[2:]:
                fe.set_vring_enable(ring.index, True)
            fe.get_features()  # round trip: both enables handled
            for ring in rings:
                self.assertTrue(ring.used_flags() & vu.VRING_USED_F_NO_NOTIFY, "ring %d wants kicks" % ring.index)
            for ring in rings:
                ring.close()
        mem.close()
        self.wait_state("h0", api.PortStatus.WAITING_FOR_PEER)

    def test_ring_indices_that_jump(self):
        mem = vu.GuestMemory(2 << 20)

        def attack():
            with vu.Frontend.connect(self.sock("h0")) as fe:
                fe.handshake(mem)
                self.wait_state("h0", api.PortStatus.UP)
                fe.tx.send(vu.buffer_gpa(0), b"\xff" * 60)
                fe.tx.set_avail_idx(40000)
                fe.rx.set_avail_idx(0xFFFF)
                time.sleep(0.5)
                fe.tx.set_avail_idx(3)  # and back
                time.sleep(0.3)
                self.assertIsNone(self.daemon.proc.poll())
                self.assertEqual(self.port("h0").status.state, api.PortStatus.UP)
        self.run_case(attack, None)
        mem.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
