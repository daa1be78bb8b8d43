#include "dataplane/ethdev_io.h"

#include <rte_config.h>
#include <rte_ethdev.h>

#include <cstdint>

namespace vhostd {
namespace {

uint16_t PortIdOf(void* context) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(context)); }

uint16_t EthdevRx(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
  return rte_eth_rx_burst(PortIdOf(context), queue, pkts, count);
}

uint16_t EthdevTx(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count) {
  return rte_eth_tx_burst(PortIdOf(context), queue, pkts, count);
}

}  // namespace

PortIo EthdevIo(uint16_t port_id) {
  return PortIo{&EthdevRx, &EthdevTx, reinterpret_cast<void*>(static_cast<uintptr_t>(port_id))};
}

}  // namespace vhostd
