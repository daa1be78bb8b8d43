// Desired state on disk: written atomically (temp file, fsync, rename, fsync of the
// directory) on every change, read once at start.
#ifndef VHOSTD_SERVER_STATE_STORE_H_
#define VHOSTD_SERVER_STATE_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "state.pb.h"

namespace vhostd {

class StateStore {
 public:
  explicit StateStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // Reads the file. A missing file is an empty state; an unreadable, torn or corrupt
  // one is an error whose message names the file and what is wrong with it. A file of
  // an older format comes back in today's (see stored_port.h).
  absl::StatusOr<vhostd::state::DesiredState> Load() const;
  absl::Status Save(const vhostd::state::DesiredState& state) const;

 private:
  const std::string path_;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_STATE_STORE_H_
