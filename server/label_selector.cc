#include "server/label_selector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/names.h"

namespace vhostd {
namespace {

using Op = LabelRequirement::Op;

// One term, without the spaces around it; the problem with it in `problem`.
LabelRequirement ParseTerm(absl::string_view term, std::string* problem) {
  LabelRequirement requirement;
  absl::string_view key = term;
  if (size_t at = term.find("!="); at != absl::string_view::npos) {
    requirement.op = Op::kNotEquals;
    key = term.substr(0, at);
    requirement.value = std::string(absl::StripAsciiWhitespace(term.substr(at + 2)));
  } else if (absl::ConsumePrefix(&key, "!")) {
    requirement.op = Op::kNotExists;
  } else if (size_t at = term.find('='); at != absl::string_view::npos) {
    requirement.op = Op::kEquals;
    key = term.substr(0, at);
    absl::string_view value = term.substr(at + 1);
    absl::ConsumePrefix(&value, "=");  // "key==value"
    requirement.value = std::string(absl::StripAsciiWhitespace(value));
  }
  requirement.key = std::string(absl::StripAsciiWhitespace(key));
  *problem = LabelKeyProblem(requirement.key);
  if (problem->empty()) *problem = LabelValueProblem(requirement.value);
  return requirement;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text, const std::string& field) {
  LabelSelector selector;
  if (text.size() > kMaxLabelSelectorLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", text.size(), " characters; at most ", kMaxLabelSelectorLength));
  }
  if (absl::StripAsciiWhitespace(text).empty()) return selector;
  int index = 0;
  for (absl::string_view raw : absl::StrSplit(text, ',')) {
    ++index;
    const absl::string_view term = absl::StripAsciiWhitespace(raw);
    std::string problem;
    if (term.empty()) {
      problem = "is empty (expected key=value, key!=value, key or !key)";
    } else {
      selector.requirements_.push_back(ParseTerm(term, &problem));
    }
    if (!problem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": term ", index, " \"",
                                                     absl::CHexEscape(LimitForMessage(std::string(term))),
                                                     "\": ", problem));
    }
  }
  return selector;
}

bool LabelSelector::Matches(const LabelMap& labels) const {
  for (const LabelRequirement& requirement : requirements_) {
    auto it = labels.find(requirement.key);
    const bool present = it != labels.end();
    bool holds = false;
    switch (requirement.op) {
      case Op::kEquals:
        holds = present && it->second == requirement.value;
        break;
      case Op::kNotEquals:
        holds = !present || it->second != requirement.value;
        break;
      case Op::kExists:
        holds = present;
        break;
      case Op::kNotExists:
        holds = !present;
        break;
    }
    if (!holds) return false;
  }
  return true;
}

}  // namespace vhostd
