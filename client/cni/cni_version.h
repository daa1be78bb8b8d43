// CNI specification versions: the ones vhostd-cni speaks, and comparisons.
#ifndef VHOSTD_CLIENT_CNI_CNI_VERSION_H_
#define VHOSTD_CLIENT_CNI_CNI_VERSION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace vhostd_cni {

inline constexpr char kLatestVersion[] = "1.1.0";

// "0.3.1", "0.4.0", "1.0.0", "1.1.0": what VERSION reports and ADD/DEL/CHECK accept.
const std::vector<std::string>& SupportedVersions();

// -1, 0 or 1 as a is older than, equal to or newer than b; nullopt when either is not
// MAJOR.MINOR.PATCH.
std::optional<int> CompareVersions(const std::string& a, const std::string& b);
// `version` is well formed and at least `minimum`.
bool AtLeast(const std::string& version, const std::string& minimum);

// OK when `version` is one vhostd-cni speaks; else kIncompatibleVersion naming both.
absl::Status CheckSupported(const std::string& version);

// The newest of `theirs` that is also in SupportedVersions() and not newer than
// `wanted` (to talk to a delegated plugin that lacks `wanted`), or nullopt.
std::optional<std::string> NegotiateVersion(const std::string& wanted,
                                            const std::vector<std::string>& theirs);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_VERSION_H_
