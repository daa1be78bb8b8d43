// A writer for the Prometheus text exposition format 0.0.4 that appends straight into
// one string. vhostd's per-port families reach tens of thousands of series (1,000
// ports x 4 queues); building prometheus-cpp MetricFamily objects for them and running
// its ostream serializer took ~90 ms per scrape, this takes a fraction of that.
#ifndef VHOSTD_SERVER_TEXT_EXPOSITION_H_
#define VHOSTD_SERVER_TEXT_EXPOSITION_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace vhostd {

class TextExposition {
 public:
  explicit TextExposition(std::string* out) : out_(out) {}

  // "# HELP" and "# TYPE" lines; `type` is counter, gauge or histogram.
  void Family(absl::string_view name, absl::string_view help, absl::string_view type);

  // One sample. `labels` is a pre-rendered, comma-separated label list without braces
  // (see Label), possibly empty.
  void Sample(absl::string_view name, absl::string_view labels, uint64_t value);
  void Sample(absl::string_view name, absl::string_view labels, double value);

  // Renders name="value" with the value escaped (backslash, double quote, newline).
  static std::string Label(absl::string_view name, absl::string_view value);

 private:
  void Head(absl::string_view name, absl::string_view labels);
  std::string* out_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_TEXT_EXPOSITION_H_
