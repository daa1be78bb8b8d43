#include "server/pagination.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

constexpr char kTokenPrefix[] = "after:";

}  // namespace

std::string EncodePageToken(const std::string& last_name) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenPrefix, last_name));
}

absl::StatusOr<Page> ResolvePage(int page_size, const std::string& page_token) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  Page page{static_cast<size_t>(page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize)), ""};
  if (page_token.empty()) return page;
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(page_token, &decoded) || !absl::StartsWith(decoded, kTokenPrefix)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous response");
  }
  page.start_after = decoded.substr(sizeof(kTokenPrefix) - 1);
  return page;
}

}  // namespace vhostd
