// Collects what DPDK logs while a device is being created, so that a driver's reason
// for refusing (net_af_xdp: "Failed to create xsk socket", ...) can be shown in the
// port's status instead of only in the daemon's log. Everything still reaches the log.
#ifndef VHOSTD_PLUGINS_UPLINK_DPDK_LOG_CAPTURE_H_
#define VHOSTD_PLUGINS_UPLINK_DPDK_LOG_CAPTURE_H_

#include <cstdio>
#include <string>

namespace vhostd::uplink {

// While alive, DPDK's log stream is a tee: every line goes on to the stream that was
// in place, and is also kept here. DPDK's stream is process-wide, so lines other
// threads log meanwhile are kept too (and still logged); callers open one device at a
// time (the daemon opens ports under its lock). Not nestable.
class DpdkLogCapture {
 public:
  DpdkLogCapture();
  ~DpdkLogCapture();
  DpdkLogCapture(const DpdkLogCapture&) = delete;
  DpdkLogCapture& operator=(const DpdkLogCapture&) = delete;

  // The captured lines so far, joined with "; " (at most the last `max_chars`).
  std::string Text(size_t max_chars = 400) const;

 private:
  FILE* previous_ = nullptr;
};

}  // namespace vhostd::uplink

#endif  // VHOSTD_PLUGINS_UPLINK_DPDK_LOG_CAPTURE_H_
