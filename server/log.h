// Minimal control-plane logging to stderr (Debian's Abseil has no absl/log). Never used
// on the polling path.
#ifndef VHOSTD_SERVER_LOG_H_
#define VHOSTD_SERVER_LOG_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vhostd {

template <typename... Args>
void Log(const char* level, const Args&... args) {
  const std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                                        " vhostd ", level, ": ", args..., "\n");
  std::fputs(line.c_str(), stderr);
}

#define VHOSTD_LOG_INFO(...) ::vhostd::Log("INFO", __VA_ARGS__)
#define VHOSTD_LOG_ERROR(...) ::vhostd::Log("ERROR", __VA_ARGS__)

}  // namespace vhostd

#endif  // VHOSTD_SERVER_LOG_H_
