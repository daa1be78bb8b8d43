// Fuzzes the SET_MEM_TABLE check vhostd runs on a frontend's message before lib/vhost
// maps anything: the message (header fields, payload, fd count) comes from the input,
// and so do the sizes of up to 8 memfds behind the regions. Oracle: an accepted table
// has only regions that fit their files without overflow, which is recomputed here.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "plugins/vhost_user/mem_table_check.h"
#include "plugins/vhost_user/vhost_msg.h"

namespace {

constexpr int kFiles = VHOSTD_VHOST_MAX_REGIONS;

// memfds reused across inputs (resized per input), so a run opens no fd per input.
int File(int i) {
  static int fds[kFiles] = {-1, -1, -1, -1, -1, -1, -1, -1};
  if (fds[i] < 0) fds[i] = memfd_create("guest", MFD_CLOEXEC);
  return fds[i];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Input: 8 file sizes (2 bytes each, in 4 KiB pages), fd count (1 byte), then the
  // message's size field (4 bytes) and payload (the rest).
  constexpr size_t kHead = 2 * kFiles + 1 + 4;
  if (size < kHead) return 0;
  vhostd_vhost_msg msg;
  memset(&msg, 0, sizeof(msg));
  msg.request = VHOSTD_VHOST_USER_SET_MEM_TABLE;
  for (int i = 0; i < kFiles; ++i) {
    const off_t pages = data[2 * i] | (data[2 * i + 1] << 8);
    if (ftruncate(File(i), pages * 4096) != 0) abort();
    msg.fds[i] = -1;
  }
  msg.fd_num = data[2 * kFiles] % (kFiles + 2);  // may claim more fds than exist
  for (int i = 0; i < msg.fd_num && i < kFiles; ++i) msg.fds[i] = File(i);
  memcpy(&msg.size, data + 2 * kFiles + 1, 4);
  const size_t payload = std::min(size - kHead, sizeof(msg.payload));
  memcpy(&msg.payload, data + kHead, payload);

  const vhostd::MemTableCheck check = vhostd::CheckMemTable(msg);
  if (!check.refusal.empty()) return 0;
  vhostd_vhost_msg_memory table;  // copied: in the packed message it is misaligned
  memcpy(&table, &msg.payload.memory, sizeof(table));
  if (table.nregions > VHOSTD_VHOST_MAX_REGIONS || table.nregions > static_cast<uint32_t>(msg.fd_num) ||
      msg.size < 8 + 32 * table.nregions) {
    fprintf(stderr, "mem_table_fuzzer: accepted %u regions, %d fds, size %u\n", table.nregions, msg.fd_num, msg.size);
    abort();
  }
  for (uint32_t i = 0; i < table.nregions; ++i) {
    const vhostd_vhost_msg_region& r = table.regions[i];
    struct stat st;
    if (fstat(msg.fds[i], &st) != 0) abort();
    const uint64_t end = r.mmap_offset + r.memory_size;
    if (r.memory_size == 0 || end < r.mmap_offset || end > static_cast<uint64_t>(st.st_size)) {
      fprintf(stderr, "mem_table_fuzzer: accepted region %u (offset %#llx size %#llx) of a %lld-byte file\n", i,
              static_cast<unsigned long long>(r.mmap_offset), static_cast<unsigned long long>(r.memory_size),
              static_cast<long long>(st.st_size));
      abort();
    }
  }
  return 0;
}
