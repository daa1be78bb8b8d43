// Checks a frontend's SET_MEM_TABLE before lib/vhost maps it. lib/vhost 22.11 maps each
// region's file for memory_size + mmap_offset bytes without comparing that with the
// file's size: a region larger than its file maps fine and raises SIGBUS on the first
// access past the end, in whichever thread touches it (usually a polling core). It also
// leaks the fd of a region it refuses (size 0, offset overflow). So vhostd refuses such
// a table itself, with a reason, before lib/vhost sees it.
#ifndef VHOSTD_PLUGINS_VHOST_USER_MEM_TABLE_CHECK_H_
#define VHOSTD_PLUGINS_VHOST_USER_MEM_TABLE_CHECK_H_

#include <cstdint>
#include <string>

#include "plugins/vhost_user/vhost_msg.h"

namespace vhostd {

struct MemTableCheck {
  std::string refusal;  // why the table is refused; empty: accepted
  uint32_t regions = 0;
  // Regions whose file is sealed against shrinking (F_SEAL_SHRINK): the frontend cannot
  // truncate them later. The others are only as safe as the SIGBUS guard makes them.
  uint32_t shrink_sealed = 0;
};

// Checks `msg` (a SET_MEM_TABLE): the count against the payload's size, the fds received
// and lib/vhost's limit; each region's size, offset and address ranges for overflow and
// overlap; and each fd: a regular file (memfd, tmpfs, hugetlbfs) at least
// mmap_offset + memory_size bytes long. Only reads the fds (fstat, F_GET_SEALS).
MemTableCheck CheckMemTable(const vhostd_vhost_msg& msg);

}  // namespace vhostd

#endif  // VHOSTD_PLUGINS_VHOST_USER_MEM_TABLE_CHECK_H_
