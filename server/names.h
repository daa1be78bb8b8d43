// Validation of resource names shared by ports and cross-connects.
#ifndef VHOSTD_SERVER_NAMES_H_
#define VHOSTD_SERVER_NAMES_H_

#include <string>

#include "absl/status/status.h"

namespace vhostd {

// An RFC 1123 label: 1-63 characters of [a-z0-9-], starting and ending with a letter or
// digit. The error is INVALID_ARGUMENT and names `field`.
absl::Status ValidateName(const std::string& name, const std::string& field);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_NAMES_H_
