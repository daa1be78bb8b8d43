#include "server/port_labels.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/names.h"

namespace vhostd {
namespace {

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A key's name or a non-empty value: [A-Za-z0-9._-], alphanumeric at both ends.
std::string NameProblem(absl::string_view name, size_t max_length) {
  if (name.size() > max_length) return absl::StrCat(name.size(), " characters; at most ", max_length);
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') {
      return "only letters, digits, '.', '_' and '-' are allowed";
    }
  }
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) return "must start and end with a letter or digit";
  return "";
}

std::string PrefixProblem(absl::string_view prefix) {
  if (prefix.empty()) return "the prefix before '/' is empty";
  if (prefix.size() > kMaxLabelPrefixLength) {
    return absl::StrCat("the prefix has ", prefix.size(), " characters; at most ", kMaxLabelPrefixLength);
  }
  for (absl::string_view part : absl::StrSplit(prefix, '.')) {
    bool valid = !part.empty() && part.size() <= 63 && IsLowerAlnum(part.front()) && IsLowerAlnum(part.back());
    for (char c : part) valid = valid && (IsLowerAlnum(c) || c == '-');
    if (!valid) return "the prefix must be a DNS subdomain (dot-separated lower-case RFC 1123 labels)";
  }
  return "";
}

}  // namespace

std::string LabelKeyProblem(absl::string_view key) {
  if (key.empty()) return "the key is empty";
  const size_t slash = key.find('/');
  absl::string_view name = key;
  if (slash != absl::string_view::npos) {
    if (std::string problem = PrefixProblem(key.substr(0, slash)); !problem.empty()) return problem;
    name = key.substr(slash + 1);
    if (name.empty()) return "the key has no name after its prefix's '/'";
  }
  if (std::string problem = NameProblem(name, kMaxLabelNameLength); !problem.empty()) {
    return absl::StrCat("the key's name: ", problem);
  }
  return "";
}

std::string LabelValueProblem(absl::string_view value) {
  if (value.empty()) return "";
  if (std::string problem = NameProblem(value, kMaxLabelValueLength); !problem.empty()) {
    return absl::StrCat("the value \"", absl::CHexEscape(LimitForMessage(std::string(value))), "\": ", problem);
  }
  return "";
}

std::string LabelField(const std::string& field, const std::string& key) {
  return absl::StrCat(field, "[\"", absl::CHexEscape(LimitForMessage(key)), "\"]");
}

absl::Status ValidateLabels(const LabelMap& labels, const std::string& field) {
  if (labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", labels.size(), " labels; at most ", kMaxLabels));
  }
  // In key order, so that the same request always gets the same error.
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  for (const auto& [key, value] : sorted) {
    std::string problem = LabelKeyProblem(key);
    if (problem.empty()) problem = LabelValueProblem(value);
    if (!problem.empty()) return absl::InvalidArgumentError(absl::StrCat(LabelField(field, key), ": ", problem));
  }
  return absl::OkStatus();
}

bool SameLabels(const LabelMap& a, const LabelMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace vhostd
