#include "plugins/vhost_user/vhost_device_query.h"

#include <rte_config.h>
#include <rte_vhost.h>

int vhostd_vhost_negotiated_features(int vid, uint64_t *features) {
  return rte_vhost_get_negotiated_features(vid, features) == 0 ? 0 : -1;
}
