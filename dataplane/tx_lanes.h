// Which transmit queue of a port a polling core writes. As in Open vSwitch's
// dpif-netdev, the tx queue follows the core, not the receive queue: the cores that
// send to a port are its "lanes", and each lane gets queues of its own while the port
// has enough; only past that do cores share a queue, under its lock. So receive
// queues can be placed on any core, one by one, and a port whose driver forbids two
// writers on one queue (every ethdev) is still safe.
#ifndef VHOSTD_DATAPLANE_TX_LANES_H_
#define VHOSTD_DATAPLANE_TX_LANES_H_

#include <cstdint>

namespace vhostd {

// A core's place among the cores that send to one port: it is lane `lane` of `lanes`
// (in core order). The default, lane 0 of 1, is a core that sends there alone.
struct TxLane {
  uint16_t lane = 0;
  uint16_t lanes = 1;
};

struct TxChoice {
  uint16_t queue;
  bool shared;  // another lane writes this queue too: take the queue's lock
};

// The queue that packets received on `rx_queue` go to on a port with `tx_queues`
// (> 0) queues, sent from lane `l`:
// - lanes <= tx_queues: lane j owns queues j, j + lanes, j + 2 lanes, ... and spreads
//   its receive queues over them (rx_queue mod the number it owns); no queue is
//   shared. With one lane that is rx_queue mod tx_queues.
// - lanes > tx_queues: lane j writes queue j mod tx_queues, shared with the other
//   lanes that land there (the lock is taken only where there are such lanes).
inline TxChoice TxQueueFor(TxLane l, uint16_t rx_queue, uint16_t tx_queues) {
  if (l.lanes <= 1) return {static_cast<uint16_t>(rx_queue % tx_queues), false};
  if (l.lanes <= tx_queues) {
    const uint16_t owned = static_cast<uint16_t>((tx_queues - l.lane + l.lanes - 1) / l.lanes);
    return {static_cast<uint16_t>(l.lane + l.lanes * (rx_queue % owned)), false};
  }
  const auto queue = static_cast<uint16_t>(l.lane % tx_queues);
  return {queue, queue + tx_queues < l.lanes};
}

}  // namespace vhostd

#endif  // VHOSTD_DATAPLANE_TX_LANES_H_
