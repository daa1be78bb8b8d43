// Strict parsing of flag values, shared by vhostctl's own flags (client/cli_args.h) and
// the flags it derives from a port type's spec message (client/spec_flags.h). Each
// parser accepts exactly one spelling of a value: no surrounding spaces, no signs where
// none belong, no hexadecimal, so that a typo is reported rather than half-read.
#ifndef VHOSTD_CLIENT_FLAG_VALUES_H_
#define VHOSTD_CLIENT_FLAG_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace vhostctl {

// A whole decimal number in [min, max]: digits, with a leading '-' only when min < 0.
std::optional<int64_t> ParseInt64(absl::string_view text, int64_t min, int64_t max);
// A whole decimal number in [0, max]: digits only.
std::optional<uint64_t> ParseUint64(absl::string_view text, uint64_t max);
// A finite decimal number ("1.5", "1e3"), as --timeout and --interval take seconds.
std::optional<double> ParseFiniteDouble(absl::string_view text);
// true, false, yes, no, on, off, 1, 0 (any case).
std::optional<bool> ParseBool(absl::string_view text);
// Whether `text` is well-formed UTF-8 (protobuf's string fields must be).
bool IsValidUtf8(absl::string_view text);

// 'text', for messages that quote what the user wrote.
std::string Quoted(absl::string_view text);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_FLAG_VALUES_H_
