// PortIo for DPDK ethdevs.
#ifndef VHOSTD_DATAPLANE_ETHDEV_IO_H_
#define VHOSTD_DATAPLANE_ETHDEV_IO_H_

#include <cstdint>

#include "dataplane/port_io.h"

namespace vhostd {

// rte_eth_rx_burst / rte_eth_tx_burst on `port_id`.
PortIo EthdevIo(uint16_t port_id);

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_ETHDEV_IO_H_
