// Command-line spelling: operators type dashed flag names (--grpc-socket, as the
// README documents), Abseil registers them with underscores (grpc_socket).
#ifndef VHOSTD_SERVER_FLAG_SPELLING_H_
#define VHOSTD_SERVER_FLAG_SPELLING_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vhostd {

// Whether the flag registered as `name` (underscored) takes a value, i.e. is not
// boolean: "--name VALUE" then means that VALUE belongs to it.
using FlagTakesValue = std::function<bool(absl::string_view name)>;

// FlagTakesValue for the flags in Abseil's registry; unknown names take no value
// (Abseil rejects them anyway).
bool RegisteredFlagTakesValue(absl::string_view name);

// Rewrites '-' to '_' in the name part of every "--flag[=value]" argument (args[0] is
// the program). Values are left alone: the part after '=', and the next argument after
// a flag that takes a value ("--eal-args --file-prefix=x"). Stops at "--".
std::vector<std::string> DashedFlagsToAbsl(std::vector<std::string> args, const FlagTakesValue& takes_value);

}  // namespace vhostd

#endif  // VHOSTD_SERVER_FLAG_SPELLING_H_
