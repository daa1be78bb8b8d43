#include "client/cni/cni_version.h"

#include <algorithm>
#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cni/cni_error.h"

namespace vhostd_cni {
namespace {

std::optional<std::array<int, 3>> Parse(const std::string& version) {
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  if (parts.size() != 3) return std::nullopt;
  std::array<int, 3> numbers;
  for (size_t i = 0; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 4 ||
        !std::all_of(parts[i].begin(), parts[i].end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(parts[i], &numbers[i])) {
      return std::nullopt;
    }
  }
  return numbers;
}

}  // namespace

const std::vector<std::string>& SupportedVersions() {
  static const auto* versions = new std::vector<std::string>{"0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return *versions;
}

std::optional<int> CompareVersions(const std::string& a, const std::string& b) {
  auto pa = Parse(a), pb = Parse(b);
  if (!pa || !pb) return std::nullopt;
  if (*pa == *pb) return 0;
  return *pa < *pb ? -1 : 1;
}

bool AtLeast(const std::string& version, const std::string& minimum) {
  std::optional<int> order = CompareVersions(version, minimum);
  return order && *order >= 0;
}

absl::Status CheckSupported(const std::string& version) {
  const auto& supported = SupportedVersions();
  if (std::find(supported.begin(), supported.end(), version) != supported.end()) {
    return absl::OkStatus();
  }
  return CniError(kIncompatibleVersion, "incompatible CNI versions",
                  absl::StrCat("config is \"", version, "\", plugin supports [\"",
                               absl::StrJoin(supported, "\", \""), "\"]"));
}

std::optional<std::string> NegotiateVersion(const std::string& wanted,
                                            const std::vector<std::string>& theirs) {
  std::optional<std::string> best;
  for (const std::string& version : SupportedVersions()) {
    std::optional<int> order = CompareVersions(version, wanted);
    if (!order || *order > 0) continue;
    if (std::find(theirs.begin(), theirs.end(), version) == theirs.end()) continue;
    if (!best || *CompareVersions(version, *best) > 0) best = version;
  }
  return best;
}

}  // namespace vhostd_cni
