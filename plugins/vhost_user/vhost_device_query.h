/* C shim for lib/vhost queries. rte_vhost.h pulls in Linux virtio headers that do not
 * compile as C++, so C++ code reaches lib/vhost only through these functions. */
#ifndef VHOSTD_PLUGINS_VHOST_USER_VHOST_DEVICE_QUERY_H_
#define VHOSTD_PLUGINS_VHOST_USER_VHOST_DEVICE_QUERY_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Virtio features the frontend acked on device `vid`; 0 on success, -1 if none. */
int vhostd_vhost_negotiated_features(int vid, uint64_t *features);

#ifdef __cplusplus
}
#endif

#endif /* VHOSTD_PLUGINS_VHOST_USER_VHOST_DEVICE_QUERY_H_ */
