// How "vhostctl events" prints the daemon's event stream (Vhostd.WatchEvents): one line
// per event, so that it can be followed with tail-like tools and grepped.
#ifndef VHOSTD_CLIENT_EVENT_OUTPUT_H_
#define VHOSTD_CLIENT_EVENT_OUTPUT_H_

#include <string>

#include "vhostd/v1/event.pb.h"

namespace vhostctl {

// "SEQ TIME KIND SUBJECT DETAILS", e.g.
//   "7 2026-12-03T14:40:01.250Z frontend-connected vm1 connects=1"
// An EventsMissed marker (no event itself, sequence 0) starts with "-":
//   "- 2026-12-03T14:40:02Z missed SLOW_WATCHER 8..2055"
// No trailing newline.
std::string FormatEventLine(const vhostd::v1::Event& event);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_EVENT_OUTPUT_H_
