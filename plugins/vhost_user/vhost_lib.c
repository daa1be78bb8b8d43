#include "plugins/vhost_user/vhost_lib.h"

#include <rte_config.h>
#include <rte_vhost.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugins/vhost_user/control_channel.h"
#include "plugins/vhost_user/vhost_msg.h"

static struct vhostd_vhost_events handlers;

/* Set once vhostd itself gave the reason a connection is about to be dropped, so the
 * drop is not reported a second time when lib/vhost closes it. */
static atomic_bool reason_given[RTE_MAX_VHOST_DEVICE];

/* lib/vhost closes a connection on any message it cannot handle: a truncated header, a
 * size beyond its payload, a refused request without NEED_REPLY, or a read that timed
 * out mid-message (control_channel.h). It says nothing about it, so the port would look
 * as if its frontend had left. */
static const char dropped_by_lib_vhost[] =
    "the frontend sent a malformed or refused message, or stalled mid-message for over 1 s";

static void mark_reason_given(int vid) {
  if (vid >= 0 && vid < RTE_MAX_VHOST_DEVICE) atomic_store(&reason_given[vid], true);
}

/* Whether vhostd gave the reason `vid`'s connection is dropped; clears it. */
static bool take_reason_given(int vid) {
  return vid >= 0 && vid < RTE_MAX_VHOST_DEVICE && atomic_exchange(&reason_given[vid], false);
}

/* A refused message: lib/vhost leaves the fds to whoever refused (and would leak some of
 * a SET_MEM_TABLE it refuses itself), and closes the connection on an error it need not
 * answer. */
static enum rte_vhost_msg_result refuse(struct vhostd_vhost_msg *msg) {
  for (int i = 0; i < msg->fd_num && i < VHOSTD_VHOST_MAX_REGIONS; ++i) {
    if (msg->fds[i] >= 0) close(msg->fds[i]);
    msg->fds[i] = -1;
  }
  msg->fd_num = 0;
  msg->flags &= ~VHOSTD_VHOST_USER_NEED_REPLY;
  return RTE_VHOST_MSG_RESULT_ERR;
}

static enum rte_vhost_msg_result before_message(int vid, void *message) {
  struct vhostd_vhost_msg *msg = message;
  if (vhostd_control_backlogged(vid)) {
    mark_reason_given(vid);
    if (handlers.control_refused) handlers.control_refused(vid, "the frontend does not read its replies");
    return refuse(msg);
  }
  if (msg->request == VHOSTD_VHOST_USER_SET_BACKEND_REQ_FD && msg->fd_num >= 1) {
    vhostd_control_bound_socket(msg->fds[0]);  /* lib/vhost checks it is a usable fd */
  }
  if (msg->request != VHOSTD_VHOST_USER_SET_MEM_TABLE || !handlers.check_mem_table) {
    return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
  }
  if (handlers.check_mem_table(vid, msg) == 0) return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
  mark_reason_given(vid);  /* the port's guest memory error says why */
  return refuse(msg);
}

static enum rte_vhost_msg_result after_message(int vid, void *message) {
  struct vhostd_vhost_msg *msg = message;
  if (msg->request != VHOSTD_VHOST_USER_SET_MEM_TABLE || !handlers.mem_table_mapped) {
    return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
  }
  if (handlers.mem_table_mapped(vid) == 0) return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
  mark_reason_given(vid);
  msg->flags &= ~VHOSTD_VHOST_USER_NEED_REPLY;  /* drop the connection, don't just nack */
  return RTE_VHOST_MSG_RESULT_ERR;
}

static const struct rte_vhost_user_extern_ops message_hooks = {
    .pre_msg_handle = before_message,
    .post_msg_handle = after_message,
};

static int on_new_connection(int vid) {
  char path[PATH_MAX];
  (void)take_reason_given(vid);  /* a new connection starts with none */
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0 || vhostd_control_adopt(vid, path) != 0) return -1;
  if (rte_vhost_extern_callback_register(vid, &message_hooks, NULL) != 0 ||
      (handlers.new_connection && handlers.new_connection(vid) != 0)) {
    vhostd_control_forget(vid);
    return -1;
  }
  return 0;
}

static void on_destroy_connection(int vid) {
  /* Ended on vhostd's side (the frontend still holds its end) for no reason given yet. */
  if (vhostd_control_forget(vid) && !take_reason_given(vid) && handlers.control_refused) {
    handlers.control_refused(vid, dropped_by_lib_vhost);
  }
  if (handlers.destroy_connection) handlers.destroy_connection(vid);
}

static int on_features_changed(int vid, uint64_t features) {
  if (handlers.features_changed) handlers.features_changed(vid, features);
  return 0;
}

/* vhostd polls every vring, so the frontend is told not to kick (VRING_USED_F_NO_NOTIFY),
 * as testpmd's net_vhost and OVS do. A frontend without EVENT_IDX (DPDK's virtio PMD and
 * virtio-user, a guest with event_idx=off) otherwise writes its kick eventfd after every
 * burst it adds (for a QEMU guest under KVM, an exit to the host); with EVENT_IDX
 * lib/vhost never moves the avail event, which already keeps kicks rare.
 * lib/vhost keeps the setting per vring and applies it again whenever the vring becomes
 * ready. Only new_device may set it: lib/vhost calls vring_state_changed with every
 * vring's lock held, and the setting takes that lock. A vring the frontend allocates
 * after new_device (QEMU allocates all of them first) keeps its kicks, which costs the
 * frontend time but loses nothing. */
static void stop_kicks(int vid) {
  for (uint16_t vring = 0; vring < rte_vhost_get_vring_num(vid); ++vring) {
    rte_vhost_enable_guest_notification(vid, vring, 0);
  }
}

static int on_new_device(int vid) {
  stop_kicks(vid);
  if (handlers.new_device) handlers.new_device(vid);
  return 0;
}

static void on_destroy_device(int vid) {
  if (handlers.destroy_device) handlers.destroy_device(vid);
}

static int on_vring_state_changed(int vid, uint16_t vring, int enable) {
  if (handlers.vring_state_changed) handlers.vring_state_changed(vid, vring, enable);
  return 0;
}

static const struct rte_vhost_device_ops device_ops = {
    .new_device = on_new_device,
    .destroy_device = on_destroy_device,
    .vring_state_changed = on_vring_state_changed,
    .features_changed = on_features_changed,
    .new_connection = on_new_connection,
    .destroy_connection = on_destroy_connection,
};

void vhostd_vhost_set_events(const struct vhostd_vhost_events *events) { handlers = *events; }

int vhostd_vhost_start(const char *path, const struct vhostd_vhost_options *o) {
  /* NET_COMPLIANT_OL_FLAGS: offload flags as the ethdev API defines them. */
  uint64_t flags = RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS;
  if (o->client) flags |= RTE_VHOST_USER_CLIENT;
  if (o->client && o->no_reconnect) flags |= RTE_VHOST_USER_NO_RECONNECT;
  if (o->iommu_support) flags |= RTE_VHOST_USER_IOMMU_SUPPORT;
  if (o->postcopy_support) flags |= RTE_VHOST_USER_POSTCOPY_SUPPORT;
  if (o->linear_buffer) flags |= RTE_VHOST_USER_LINEARBUF_SUPPORT;
  if (o->ext_buffer) flags |= RTE_VHOST_USER_EXTBUF_SUPPORT;
  if (rte_vhost_driver_register(path, flags) != 0) return -1;
  /* Offloads vhostd cannot make correct for every peer are never offered: TCP/IPv6
   * segmentation (librte_gso has none), UDP fragmentation offload and ECN with TSO. */
  uint64_t disable = (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_UFO) |
                     (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_ECN) |
                     (1ULL << VIRTIO_NET_F_GUEST_ECN);
  if (!o->tso || !o->checksum) disable |= 1ULL << VIRTIO_NET_F_HOST_TSO4;
  if (!o->checksum) {
    disable |= (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
               (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6);
  }
  if (!o->mrg_rxbuf) disable |= 1ULL << VIRTIO_NET_F_MRG_RXBUF;
  if (rte_vhost_driver_disable_features(path, disable) != 0 ||
      rte_vhost_driver_callback_register(path, &device_ops) != 0 || rte_vhost_driver_start(path) != 0) {
    rte_vhost_driver_unregister(path);
    return -1;
  }
  return 0;
}

int vhostd_vhost_stop(const char *path) {
  /* Unregistering closes the connections without destroy_connection: forget them here. */
  char name[PATH_MAX];
  for (int vid = 0; vid < RTE_MAX_VHOST_DEVICE; ++vid) {
    /* Only connections it knows: lib/vhost logs an error for every vid without a device. */
    if (vhostd_control_known(vid) && rte_vhost_get_ifname(vid, name, sizeof(name)) == 0 && strcmp(name, path) == 0) {
      vhostd_control_forget(vid);
    }
  }
  return rte_vhost_driver_unregister(path) == 0 ? 0 : -1;
}

int vhostd_vhost_mapped_regions(int vid, struct vhostd_vhost_mapping *regions, int max) {
  struct rte_vhost_memory *mem = NULL;
  if (rte_vhost_get_mem_table(vid, &mem) != 0) return -1;
  int n = 0;
  for (uint32_t i = 0; i < mem->nregions && n < max; ++i) {
    const struct rte_vhost_mem_region *r = &mem->regions[i];
    if (r->mmap_addr == NULL) continue;
    regions[n].start = (uintptr_t)r->mmap_addr;
    regions[n].length = r->mmap_size;
    regions[n].fd = r->fd;
    ++n;
  }
  const int complete = n == (int)mem->nregions;
  free(mem);
  return complete ? n : -1;
}

int vhostd_vhost_path(int vid, char *buf, size_t len) { return rte_vhost_get_ifname(vid, buf, len) == 0 ? 0 : -1; }

int vhostd_vhost_negotiated_features(int vid, uint64_t *features) {
  return rte_vhost_get_negotiated_features(vid, features) == 0 ? 0 : -1;
}

uint32_t vhostd_vhost_pending(int vid, uint16_t queue) { return rte_vhost_rx_queue_count(vid, 2 * queue + 1); }


/* Virtqueue 2q is the frontend's receive ring, 2q+1 its transmit ring. */
uint16_t vhostd_vhost_dequeue(int vid, uint16_t queue, struct rte_mempool *pool, struct rte_mbuf **pkts,
                              uint16_t count) {
  return rte_vhost_dequeue_burst(vid, 2 * queue + 1, pool, pkts, count);
}

uint16_t vhostd_vhost_enqueue(int vid, uint16_t queue, struct rte_mbuf **pkts, uint16_t count) {
  return rte_vhost_enqueue_burst(vid, 2 * queue, pkts, count);
}
