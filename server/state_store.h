// Desired state on disk: a snapshot (the state file, written atomically: temp file,
// fsync, rename, fsync of the directory) and a journal of the changes since (appended
// and fdatasync()ed before a change is acknowledged), like OVSDB's log. A change costs
// one small append, not a rewrite of every port; the journal is folded into a new
// snapshot once it holds as many records as the snapshot has entries (at least 256),
// which keeps both the cost per change and the replay at start bounded.
#ifndef VHOSTD_SERVER_STATE_STORE_H_
#define VHOSTD_SERVER_STATE_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "state.pb.h"

namespace vhostd {

// 2: ports carry a type and an Any spec. 1: a closed oneof of three types (read and
// migrated; written no more).
inline constexpr uint32_t kStateFormatVersion = 2;

// How the state names a pin (port and queue): "PORT/QUEUE"; port names have no '/'.
inline std::string PinName(const vhostd::v1::QueuePin& pin) {
  return pin.port() + "/" + std::to_string(pin.queue());
}

class StateStore {
 public:
  explicit StateStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  std::string journal_path() const { return path_ + ".journal"; }

  // Reads the snapshot and replays the journal onto it. Missing files are an empty
  // state; an unreadable, torn or corrupt snapshot, or a corrupt journal line, is an
  // error whose message names the file (and line) and what is wrong. A journal whose
  // last line is incomplete (a crash during an append that was never acknowledged)
  // loads without it. A file of an older format comes back in today's (stored_port.h).
  absl::StatusOr<vhostd::state::DesiredState> Load();
  // Writes `state` as the new snapshot, then empties the journal.
  absl::Status Save(const vhostd::state::DesiredState& state);
  // Makes one change durable. `state_before` returns the whole state without it; it is
  // called only when the journal is due to be folded into a new snapshot. A failed
  // append leaves the files as they were.
  absl::Status Append(const vhostd::state::JournalRecord& change,
                      const std::function<vhostd::state::DesiredState()>& state_before);

  // The format_version of the snapshot the last Load read (0: none): below today's,
  // the caller should Save to rewrite it in today's format.
  uint32_t loaded_format_version() const { return loaded_format_version_; }

  // Applies `change` to `state` (what a journal replay does).
  static void ApplyChange(const vhostd::state::JournalRecord& change, vhostd::state::DesiredState& state);

 private:
  absl::Status AppendLine(const std::string& line);
  void SetCompactionPoint(const vhostd::state::DesiredState& snapshot);

  const std::string path_;
  uint64_t journal_size_ = 0;     // bytes of complete records; more on disk is a torn tail
  uint64_t journal_records_ = 0;  // records since the snapshot
  uint64_t compact_after_ = 256;  // records that trigger a new snapshot
  uint32_t loaded_format_version_ = 0;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_STATE_STORE_H_
