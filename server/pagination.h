// AIP-158 pagination over name-ordered collections.
#ifndef VHOSTD_SERVER_PAGINATION_H_
#define VHOSTD_SERVER_PAGINATION_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vhostd {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

struct Page {
  size_t limit;             // items to return
  std::string start_after;  // return names greater than this ("" = from the start)
};

// Checks `page_size` (0 means the default, larger than the maximum is capped) and
// `page_token` (a token this server handed out).
absl::StatusOr<Page> ResolvePage(int page_size, const std::string& page_token);

std::string EncodePageToken(const std::string& last_name);

// The names of one page of `items` and the token of the next page ("" when done).
template <typename T>
std::vector<const T*> TakePage(const std::map<std::string, T>& items, const Page& page, std::string* next_token) {
  std::vector<const T*> out;
  auto it = page.start_after.empty() ? items.begin() : items.upper_bound(page.start_after);
  for (; it != items.end() && out.size() < page.limit; ++it) out.push_back(&it->second);
  next_token->clear();
  if (it != items.end() && !out.empty()) *next_token = EncodePageToken(std::prev(it)->first);
  return out;
}

}  // namespace vhostd

#endif  // VHOSTD_SERVER_PAGINATION_H_
