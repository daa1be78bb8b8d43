// Desired state on disk: a snapshot (the state file, written atomically: temp file,
// fsync, rename, fsync of the directory) and a journal of the changes since (appended
// and fdatasync()ed before a change is acknowledged), like OVSDB's log. A change costs
// one small append, not a rewrite of every port; the journal is folded into a new
// snapshot once it holds as many records as the snapshot has entries (at least 256),
// which keeps both the cost per change and the replay at start bounded.
#ifndef VHOSTD_SERVER_STATE_STORE_H_
#define VHOSTD_SERVER_STATE_STORE_H_

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;
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
  // Makes one change durable: Write, then WaitDurable.
  absl::Status Append(const vhostd::state::JournalRecord& change,
                      const std::function<vhostd::state::DesiredState()>& state_before);

  // Group commit, Append in two steps so that concurrent changes share one fdatasync.
  // Write appends `change` to the journal without waiting for the disk and returns its
  // sequence number; `state_before` returns the whole state without it (with every
  // change written before it), called only when the journal is due to be folded into
  // a new snapshot. A failed write leaves the files as they were. Writes come from one
  // thread at a time (the caller's lock).
  absl::StatusOr<uint64_t> Write(const vhostd::state::JournalRecord& change,
                                 const std::function<vhostd::state::DesiredState()>& state_before);
  // Returns once record `seq` is on disk, from any thread, without the caller's lock:
  // the first waiter syncs every record written so far, the others wait for it. If the
  // sync fails, every record written and not yet durable fails with it.
  absl::Status WaitDurable(uint64_t seq);
  // After a failed sync the journal may hold some of the failed records, so Write
  // refuses until Recover saves `state` (the state without them) as a new snapshot.
  bool NeedsRecovery();
  absl::Status Recover(const vhostd::state::DesiredState& state);

  // How the journal is synced (0 or -1 with errno): fdatasync. Tests substitute a slow
  // or failing one. Set before the first write.
  void SetSyncFunction(std::function<int(int fd)> sync) { sync_ = std::move(sync); }

  // The format_version of the snapshot the last Load read (0: none): below today's,
  // the caller should Save to rewrite it in today's format.
  uint32_t loaded_format_version() const { return loaded_format_version_; }

  // Applies `change` to `state` (what a journal replay does).
  static void ApplyChange(const vhostd::state::JournalRecord& change, vhostd::state::DesiredState& state);

 private:
  absl::Status AppendLine(const std::string& line);
  absl::Status SaveLocked(const vhostd::state::DesiredState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void SetCompactionPoint(const vhostd::state::DesiredState& snapshot);

  const std::string path_;
  uint64_t journal_size_ = 0;     // bytes of complete records; more on disk is a torn tail
  uint64_t journal_records_ = 0;  // records since the snapshot
  uint64_t compact_after_ = 256;  // records that trigger a new snapshot
  uint32_t loaded_format_version_ = 0;

  // Group commit. Snapshots take sync_mu_ and wait for a sync in progress, so the fd
  // a syncing waiter uses is never closed under it.
  std::function<int(int fd)> sync_ = [](int fd) { return fdatasync(fd); };
  absl::Mutex sync_mu_;
  int sync_fd_ ABSL_GUARDED_BY(sync_mu_) = -1;  // the journal, as last written
  uint64_t written_ ABSL_GUARDED_BY(sync_mu_) = 0;  // records written (sequence numbers 1..written_)
  uint64_t durable_ ABSL_GUARDED_BY(sync_mu_) = 0;  // of those, on disk
  uint64_t failed_through_ ABSL_GUARDED_BY(sync_mu_) = 0;  // records up to here failed to sync
  absl::Status sync_error_ ABSL_GUARDED_BY(sync_mu_);
  bool syncing_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool needs_recovery_ ABSL_GUARDED_BY(sync_mu_) = false;
};

}  // namespace vhostd

#endif  // VHOSTD_SERVER_STATE_STORE_H_
