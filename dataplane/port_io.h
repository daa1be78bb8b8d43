// How a polling core moves packets in and out of one port, whatever the port is: a DPDK
// ethdev, or a vhost-user device served by lib/vhost directly.
#ifndef VHOSTD_DATAPLANE_PORT_IO_H_
#define VHOSTD_DATAPLANE_PORT_IO_H_

#include <atomic>
#include <cstdint>

struct rte_mbuf;

namespace vhostd {

struct PortIo {
  // Receives up to `count` packets from `queue` into `pkts`; returns how many.
  using RxBurst = uint16_t (*)(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count);
  // Sends the first packets of `pkts` on `queue` and takes ownership of the ones it
  // accepted; returns how many. The caller still owns (and frees) the rest.
  using TxBurst = uint16_t (*)(void* context, uint16_t queue, rte_mbuf** pkts, uint16_t count);

  RxBurst rx = nullptr;
  TxBurst tx = nullptr;
  void* context = nullptr;
  // What the peer behind this port accepts on transmit (TxOffload bits, offload.h),
  // updated when a frontend (re)negotiates; null means nothing (software completes
  // checksums and segments large frames).
  const std::atomic<uint32_t>* tx_offloads = nullptr;
};

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_PORT_IO_H_
