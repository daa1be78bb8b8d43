#include "server/text_exposition.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vhostd {

void TextExposition::Family(absl::string_view name, absl::string_view help, absl::string_view type) {
  absl::StrAppend(out_, "# HELP ", name, " ");
  for (char c : help) {  // HELP escapes only backslash and newline
    if (c == '\\') {
      out_->append("\\\\");
    } else if (c == '\n') {
      out_->append("\\n");
    } else {
      out_->push_back(c);
    }
  }
  absl::StrAppend(out_, "\n# TYPE ", name, " ", type, "\n");
}

void TextExposition::Head(absl::string_view name, absl::string_view labels) {
  out_->append(name.data(), name.size());
  if (!labels.empty()) absl::StrAppend(out_, "{", labels, "}");
  out_->push_back(' ');
}

void TextExposition::Sample(absl::string_view name, absl::string_view labels, uint64_t value) {
  Head(name, labels);
  absl::StrAppend(out_, value, "\n");
}

void TextExposition::Sample(absl::string_view name, absl::string_view labels, double value) {
  Head(name, labels);
  if (std::isinf(value)) {
    out_->append(value > 0 ? "+Inf\n" : "-Inf\n");
  } else if (std::isnan(value)) {
    out_->append("NaN\n");
  } else {
    absl::StrAppendFormat(out_, "%.17g\n", value);
  }
}

std::string TextExposition::Label(absl::string_view name, absl::string_view value) {
  std::string out = absl::StrCat(name, "=\"");
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace vhostd
