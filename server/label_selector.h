// ListPorts' label_selector: a conjunction of requirements on a port's labels, in the
// equality-based subset of Kubernetes' selector syntax.
#ifndef VHOSTD_SERVER_LABEL_SELECTOR_H_
#define VHOSTD_SERVER_LABEL_SELECTOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/port_labels.h"

namespace vhostd {

// Longest selector accepted (a bound on the work one request can ask for).
inline constexpr size_t kMaxLabelSelectorLength = 4096;

struct LabelRequirement {
  enum class Op {
    kEquals,     // key=value, key==value
    kNotEquals,  // key!=value (also true when the key is absent)
    kExists,     // key
    kNotExists,  // !key
  };
  std::string key;
  Op op = Op::kExists;
  std::string value;  // for kEquals and kNotEquals
};

class LabelSelector {
 public:
  // Comma-separated terms, all of which must hold; spaces around terms, keys and values
  // are ignored; "" matches everything. Keys and values must be valid labels (see
  // port_labels.h). INVALID_ARGUMENT naming `field` and the term otherwise.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text, const std::string& field);

  bool Matches(const LabelMap& labels) const;
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_LABEL_SELECTOR_H_
