/* C shim over DPDK's lib/vhost. rte_vhost.h pulls in Linux virtio headers that do not
 * compile as C++, so the C++ plugin reaches lib/vhost only through these functions. */
#ifndef VHOSTD_PLUGINS_VHOST_USER_VHOST_LIB_H_
#define VHOSTD_PLUGINS_VHOST_USER_VHOST_LIB_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;
struct vhostd_vhost_msg; /* vhost_msg.h */

struct vhostd_vhost_options {
  int client;             /* connect (and reconnect) instead of listening */
  int iommu_support;      /* VIRTIO_F_IOMMU_PLATFORM */
  int postcopy_support;
  int linear_buffer;
  int ext_buffer;
  int checksum;           /* offer CSUM, GUEST_CSUM and GUEST_TSO4/6 */
  int tso;                /* offer HOST_TSO4 (needs checksum) */
  int mrg_rxbuf;          /* offer VIRTIO_NET_F_MRG_RXBUF */
  int no_reconnect;       /* client mode: don't reconnect after the frontend went away */
};

/* Device events, called on lib/vhost's event thread. A socket may carry several
 * connections (vids) at once: a server-mode socket accepts a second frontend, e.g. the
 * destination QEMU of a live migration. */
struct vhostd_vhost_events {
  int (*new_connection)(int vid);  /* 0, or -1 to refuse it (lib/vhost closes it) */
  void (*destroy_connection)(int vid);
  void (*new_device)(int vid);      /* the frontend's rings are ready: poll them */
  void (*destroy_device)(int vid);  /* stop polling before returning */
  void (*vring_state_changed)(int vid, uint16_t vring, int enable);
  void (*features_changed)(int vid, uint64_t features);  /* e.g. dirty logging on/off */
  /* SET_MEM_TABLE, before lib/vhost maps anything: 0 lets lib/vhost map the regions;
   * otherwise lib/vhost never sees them, every fd received with the message is closed
   * and the connection is dropped. */
  int (*check_mem_table)(int vid, const struct vhostd_vhost_msg *msg);
  /* lib/vhost mapped (or kept) the memory table of `vid`: vhostd_vhost_mapped_regions
   * lists it. 0, or -1 to drop the connection. */
  int (*mem_table_mapped)(int vid);
  /* The connection of `vid` is being dropped for how its frontend uses the control
   * channel (`reason`); the message that showed it is refused. */
  void (*control_refused)(int vid, const char *reason);
};

/* Sets the event handlers for every socket (once, before the first start). */
void vhostd_vhost_set_events(const struct vhostd_vhost_events *events);

/* Registers `path` with `options` and starts listening or connecting. On failure
 * nothing stays registered; returns 0 or -1. */
int vhostd_vhost_start(const char *path, const struct vhostd_vhost_options *options);

/* Unregisters `path`: closes its connection (destroy_device runs first if a device is
 * up) and, in server mode, removes the socket file. Returns 0 or -1. */
int vhostd_vhost_stop(const char *path);

/* Guest memory of `vid` as lib/vhost mapped it: up to `max` regions into `regions`;
 * returns how many, or -1. */
struct vhostd_vhost_mapping {
  uintptr_t start;  /* host address of the mapping (the file's offset 0) */
  size_t length;
  int fd;
};
int vhostd_vhost_mapped_regions(int vid, struct vhostd_vhost_mapping *regions, int max);

/* The socket path of device `vid` into buf; 0 or -1. */
int vhostd_vhost_path(int vid, char *buf, size_t len);
int vhostd_vhost_negotiated_features(int vid, uint64_t *features);
/* Virtio feature bit of dirty-page logging during live migration (VHOST_F_LOG_ALL). */
#define VHOSTD_VHOST_F_LOG_ALL 26
/* Descriptors the frontend made available on queue pair `queue`'s transmit ring. */
uint32_t vhostd_vhost_pending(int vid, uint16_t queue);

/* Data path: queue pair `queue` of device `vid`. dequeue reads the frontend's transmit
 * ring into new mbufs from `pool`; enqueue copies packets into its receive ring and
 * does not free them. */
uint16_t vhostd_vhost_dequeue(int vid, uint16_t queue, struct rte_mempool *pool, struct rte_mbuf **pkts,
                              uint16_t count);
uint16_t vhostd_vhost_enqueue(int vid, uint16_t queue, struct rte_mbuf **pkts, uint16_t count);

#ifdef __cplusplus
}
#endif

#endif /* VHOSTD_PLUGINS_VHOST_USER_VHOST_LIB_H_ */
