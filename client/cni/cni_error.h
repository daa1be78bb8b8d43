// CNI errors: the spec's error codes carried in an absl::Status, and the error object
// a plugin prints ({"cniVersion", "code", "msg", "details"}).
//
// A CNI error travels as a non-OK absl::Status whose payloads hold the CNI code and the
// details; its message is the spec's "msg". A Status without a CNI code (from a library)
// is reported as kInternal.
#ifndef VHOSTD_CLIENT_CNI_CNI_ERROR_H_
#define VHOSTD_CLIENT_CNI_CNI_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vhostd_cni {

// The spec's codes (0-99 are the spec's; 100 and up are vhostd-cni's own).
enum ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodingFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  kNotAvailable = 50,          // STATUS: cannot service ADD
  kNotAvailableDegraded = 51,  // STATUS: and existing attachments are degraded
  // vhostd-cni's own.
  kInternal = 100,             // a bug or an unexpected library error
  kDaemonRefused = 101,        // vhostd refused the request for a reason other than the config
  kDelegateFailed = 102,       // the IPAM plugin failed (its own code is in the details)
  kInterfaceSetup = 103,       // configuring the interface in the container's netns failed
  kCheckFailed = 104,          // CHECK found the attachment not as ADD left it
  kResourceExhausted = 105,    // no free device in the configured pool
  kInterfaceExists = 106,      // CNI_IFNAME exists in the container already
};

// A CNI error as an absl::Status.
absl::Status CniError(int code, absl::string_view msg, absl::string_view details = "");
// The CNI code of `status` (kInternal when it carries none). `status` must not be OK.
int CniCodeOf(const absl::Status& status);
std::string CniDetailsOf(const absl::Status& status);
// `status` with `prefix` put before its message, code and details kept.
absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix);

// The spec's error object for `status`, one line of JSON.
std::string ErrorJson(const absl::Status& status, const std::string& cni_version);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_ERROR_H_
