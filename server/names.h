// Validation of resource names shared by ports and cross-connects, and how client
// input is quoted in errors.
#ifndef VHOSTD_SERVER_NAMES_H_
#define VHOSTD_SERVER_NAMES_H_

#include <string>

#include "absl/status/status.h"

namespace vhostd {

// An RFC 1123 label: 1-63 characters of [a-z0-9-], starting and ending with a letter or
// digit. The error is INVALID_ARGUMENT and names `field`.
absl::Status ValidateName(const std::string& name, const std::string& field);

// Client input quoted in an error, cut to a bounded length.
std::string LimitForMessage(const std::string& text);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_NAMES_H_
