/* The vhost-user message as DPDK 22.11's lib/vhost hands it to external message handlers
 * (struct vhu_msg_context in lib/vhost/vhost_user.h, which is not installed). lib/vhost
 * documents that this layout "can't be changed carelessly as external message handlers
 * rely on them"; the sizes below are asserted so a different layout fails the build.
 * Only what vhostd reads is spelled out; the rest of the payload union is bytes. */
#ifndef VHOSTD_PLUGINS_VHOST_USER_VHOST_MSG_H_
#define VHOSTD_PLUGINS_VHOST_USER_VHOST_MSG_H_

#include <stdint.h>

#define VHOSTD_VHOST_MAX_REGIONS 8 /* VHOST_MEMORY_MAX_NREGIONS */
#define VHOSTD_VHOST_USER_SET_MEM_TABLE 5
#define VHOSTD_VHOST_USER_SET_BACKEND_REQ_FD 21 /* VHOST_USER_SET_SLAVE_REQ_FD */
#define VHOSTD_VHOST_USER_NEED_REPLY (1u << 3)
/* The largest payload member (VhostUserCryptoSessionParam). */
#define VHOSTD_VHOST_PAYLOAD_SIZE 632

struct vhostd_vhost_msg_region {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};

struct vhostd_vhost_msg_memory {
  uint32_t nregions;
  uint32_t padding;
  struct vhostd_vhost_msg_region regions[VHOSTD_VHOST_MAX_REGIONS];
};

struct __attribute__((packed)) vhostd_vhost_msg {
  uint32_t request;
  uint32_t flags;
  uint32_t size; /* of the payload, as the frontend announced it */
  union {
    uint64_t u64;
    struct vhostd_vhost_msg_memory memory;
    uint8_t bytes[VHOSTD_VHOST_PAYLOAD_SIZE];
  } payload;
  int fds[VHOSTD_VHOST_MAX_REGIONS]; /* received with the message; -1 once taken */
  int fd_num;
};

#ifdef __cplusplus
static_assert(sizeof(struct vhostd_vhost_msg) == 12 + VHOSTD_VHOST_PAYLOAD_SIZE + 4 * VHOSTD_VHOST_MAX_REGIONS + 4,
              "vhu_msg_context layout");
#else
_Static_assert(sizeof(struct vhostd_vhost_msg) == 12 + VHOSTD_VHOST_PAYLOAD_SIZE + 4 * VHOSTD_VHOST_MAX_REGIONS + 4,
               "vhu_msg_context layout");
#endif

#endif /* VHOSTD_PLUGINS_VHOST_USER_VHOST_MSG_H_ */
