#include "server/flag_spelling.h"

#include <algorithm>

#include "absl/flags/reflection.h"

namespace vhostd {

bool RegisteredFlagTakesValue(absl::string_view name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && !flag->IsOfType<bool>();
}

std::vector<std::string> DashedFlagsToAbsl(std::vector<std::string> args, const FlagTakesValue& takes_value) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    const size_t equals = arg.find('=');
    const size_t end = std::min(equals, arg.size());
    for (size_t c = 2; c < end; ++c) {
      if (arg[c] == '-') arg[c] = '_';
    }
    // Abseil takes the next argument as this flag's value, whatever it looks like.
    if (equals == std::string::npos && takes_value(absl::string_view(arg).substr(2))) ++i;
  }
  return args;
}

}  // namespace vhostd
