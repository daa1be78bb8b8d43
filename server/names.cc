#include "server/names.h"

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

constexpr size_t kMaxQuoted = 128;

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

absl::Status ValidateName(const std::string& name, const std::string& field) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (name.size() > 63) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", name.size(), " characters; at most 63"));
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": \"", name, "\" is not an RFC 1123 label (lower-case letters, digits and '-' only)"));
    }
  }
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", name, "\" must start and end with a letter or digit"));
  }
  return absl::OkStatus();
}

std::string LimitForMessage(const std::string& text) {
  return text.size() <= kMaxQuoted ? text : absl::StrCat(text.substr(0, kMaxQuoted), "...");
}

}  // namespace vhostd
