#include "client/cni/cni_error.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {
namespace {

constexpr char kCodeUrl[] = "vhostd-cni/code";
constexpr char kDetailsUrl[] = "vhostd-cni/details";

}  // namespace

absl::Status CniError(int code, absl::string_view msg, absl::string_view details) {
  absl::Status status(absl::StatusCode::kUnknown, msg);
  status.SetPayload(kCodeUrl, absl::Cord(absl::StrCat(code)));
  if (!details.empty()) status.SetPayload(kDetailsUrl, absl::Cord(details));
  return status;
}

int CniCodeOf(const absl::Status& status) {
  int code = kInternal;
  if (auto payload = status.GetPayload(kCodeUrl)) {
    if (!absl::SimpleAtoi(std::string(*payload), &code)) code = kInternal;
  }
  return code;
}

std::string CniDetailsOf(const absl::Status& status) {
  auto payload = status.GetPayload(kDetailsUrl);
  return payload ? std::string(*payload) : std::string();
}

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  absl::Status prefixed(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { prefixed.SetPayload(url, payload); });
  return prefixed;
}

std::string ErrorJson(const absl::Status& status, const std::string& cni_version) {
  nlohmann::json error = {
      {"cniVersion", cni_version},
      {"code", CniCodeOf(status)},
      {"msg", std::string(status.message())},
  };
  const std::string details = CniDetailsOf(status);
  if (!details.empty()) error["details"] = details;
  // Invalid UTF-8 (a path, a peer's message) is replaced rather than throwing.
  return error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vhostd_cni
