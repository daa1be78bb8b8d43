#include "plugins/uplink/dpdk_log_capture.h"

#include <rte_config.h>
#include <rte_log.h>

#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace vhostd::uplink {
namespace {

// The tee's state. The FILE is made once and never closed: a thread that fetched
// DPDK's stream just before a capture ended may still write to it afterwards, and then
// its line only goes on to `forward`.
struct Tee {
  absl::Mutex mu;
  FILE* forward ABSL_GUARDED_BY(mu) = nullptr;
  std::string* sink ABSL_GUARDED_BY(mu) = nullptr;
  FILE* file = nullptr;
};

ssize_t TeeWrite(void* cookie, const char* data, size_t size) {
  Tee* tee = static_cast<Tee*>(cookie);
  absl::MutexLock lock(&tee->mu);
  if (tee->sink != nullptr) tee->sink->append(data, size);
  if (tee->forward != nullptr) {
    fwrite(data, 1, size, tee->forward);
    fflush(tee->forward);
  }
  return static_cast<ssize_t>(size);
}

Tee& TheTee() {
  static Tee* tee = [] {
    Tee* t = new Tee;
    cookie_io_functions_t functions{};
    functions.write = &TeeWrite;
    t->file = fopencookie(t, "w", functions);
    if (t->file != nullptr) setvbuf(t->file, nullptr, _IOLBF, 0);
    return t;
  }();
  return *tee;
}

// Captured text of the current capture (one capture at a time, see the header).
std::string& Captured() {
  static std::string* text = new std::string;
  return *text;
}

}  // namespace

DpdkLogCapture::DpdkLogCapture() {
  Tee& tee = TheTee();
  if (tee.file == nullptr) return;
  previous_ = rte_log_get_stream();
  if (previous_ == tee.file) {  // nested: the outer capture has the lines
    previous_ = nullptr;
    return;
  }
  {
    absl::MutexLock lock(&tee.mu);
    Captured().clear();
    tee.forward = previous_;
    tee.sink = &Captured();
  }
  rte_openlog_stream(tee.file);
}

DpdkLogCapture::~DpdkLogCapture() {
  if (previous_ == nullptr) return;
  Tee& tee = TheTee();
  fflush(tee.file);
  rte_openlog_stream(previous_);
  absl::MutexLock lock(&tee.mu);
  tee.sink = nullptr;
}

std::string DpdkLogCapture::Text(size_t max_chars) const {
  Tee& tee = TheTee();
  if (tee.file != nullptr) fflush(tee.file);
  std::vector<std::string> lines;
  {
    absl::MutexLock lock(&tee.mu);
    for (absl::string_view line : absl::StrSplit(Captured(), '\n', absl::SkipWhitespace())) {
      lines.emplace_back(absl::StripAsciiWhitespace(line));
    }
  }
  std::string text = absl::StrJoin(lines, "; ");
  if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
  return text;
}

}  // namespace vhostd::uplink
