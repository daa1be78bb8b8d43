#include "server/state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "server/stored_port.h"

namespace vhostd {
namespace {

constexpr uint32_t kFormatVersion = kStateFormatVersion;
constexpr uint32_t kOldestReadableVersion = 1;
constexpr uint64_t kMinRecordsBeforeCompaction = 256;

using vhostd::state::DesiredState;
using vhostd::state::JournalRecord;

absl::Status Errno(const std::string& what) { return absl::InternalError(absl::StrCat(what, ": ", strerror(errno))); }

absl::Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string NameOf(const google::protobuf::Struct& port) { return StoredString(port, "name"); }
std::string NameOf(const vhostd::v1::CrossConnect& xconnect) { return xconnect.name(); }
std::string NameOf(const vhostd::v1::Bridge& bridge) { return bridge.name(); }
std::string NameOf(const vhostd::v1::QueuePin& pin) { return PinName(pin); }

absl::Status FsyncDirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("open ", dir));
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno(absl::StrCat("fsync ", dir));
}

// The whole file; ENOENT gives "" and `exists` false.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path, bool* exists) {
  std::ifstream in(path);
  *exists = static_cast<bool>(in);
  if (!in) {
    if (errno == ENOENT) return std::string();
    return absl::FailedPreconditionError(absl::StrCat("state file ", path, " cannot be read: ", strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<DesiredState> ParseSnapshot(const std::string& path, const std::string& text, uint32_t* version) {
  DesiredState state;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(text, &state, options);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("state file ", path, " is corrupt (", std::string(parsed.message()),
                                            "); it was left untouched: fix or move it away to start afresh"));
  }
  if (state.format_version() < kOldestReadableVersion || state.format_version() > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("state file ", path, " has format_version ",
                                                      state.format_version(), "; this vhostd reads ",
                                                      kOldestReadableVersion, "..", kFormatVersion));
  }
  *version = state.format_version();
  if (state.format_version() == 1) {
    for (google::protobuf::Struct& port : *state.mutable_ports()) MigrateStoredPortFromVersion1(port);
    state.set_format_version(kFormatVersion);
  }
  return state;
}

// Replays the complete lines of `journal` onto `state`; `*valid_size` is the length
// of those lines (a last line without newline is a torn append, left out).
absl::Status ReplayJournal(const std::string& path, const std::string& journal, DesiredState& state,
                           uint64_t* valid_size, uint64_t* records) {
  size_t start = 0;
  for (int line = 1;; ++line) {
    const size_t end = journal.find('\n', start);
    if (end == std::string::npos) break;
    JournalRecord record;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto parsed = google::protobuf::util::JsonStringToMessage(journal.substr(start, end - start), &record, options);
    if (!parsed.ok() || record.change_case() == JournalRecord::CHANGE_NOT_SET) {
      return absl::DataLossError(absl::StrCat("state journal ", path, " line ", line, " is corrupt (",
                                              parsed.ok() ? "no change" : std::string(parsed.message()),
                                              "); it was left untouched: fix or move it away"));
    }
    StateStore::ApplyChange(record, state);
    ++*records;
    start = end + 1;
  }
  *valid_size = start;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DesiredState> StateStore::Load() {
  bool exists = false;
  absl::StatusOr<std::string> text = ReadWholeFile(path_, &exists);
  if (!text.ok()) return text.status();
  uint32_t version = 0;
  absl::StatusOr<DesiredState> state = exists ? ParseSnapshot(path_, *text, &version) : DesiredState();
  if (!state.ok()) return state.status();
  loaded_format_version_ = version;
  state->set_format_version(kFormatVersion);  // what it is now, snapshot or not
  SetCompactionPoint(*state);
  absl::StatusOr<std::string> journal = ReadWholeFile(journal_path(), &exists);
  if (!journal.ok()) return journal.status();
  journal_size_ = journal_records_ = 0;
  if (absl::Status s = ReplayJournal(journal_path(), *journal, *state, &journal_size_, &journal_records_); !s.ok()) {
    return s;
  }
  return state;
}

void StateStore::ApplyChange(const JournalRecord& change, DesiredState& state) {
  auto replace = [](auto* list, const std::string& name, const auto* value) {
    auto it = std::find_if(list->begin(), list->end(), [&](const auto& item) { return NameOf(item) == name; });
    if (it != list->end()) list->erase(it);
    if (value != nullptr) *list->Add() = *value;
  };
  switch (change.change_case()) {
    case JournalRecord::kPutPort:
      replace(state.mutable_ports(), StoredString(change.put_port(), "name"), &change.put_port());
      break;
    case JournalRecord::kDeletePort: {
      replace(state.mutable_ports(), change.delete_port(), static_cast<const google::protobuf::Struct*>(nullptr));
      auto* pins = state.mutable_pins();  // a port's pins go with it
      pins->erase(std::remove_if(pins->begin(), pins->end(),
                                 [&](const vhostd::v1::QueuePin& pin) { return pin.port() == change.delete_port(); }),
                  pins->end());
      break;
    }
    case JournalRecord::kPutCrossConnect:
      replace(state.mutable_cross_connects(), change.put_cross_connect().name(), &change.put_cross_connect());
      break;
    case JournalRecord::kDeleteCrossConnect:
      replace(state.mutable_cross_connects(), change.delete_cross_connect(),
              static_cast<const vhostd::v1::CrossConnect*>(nullptr));
      break;
    case JournalRecord::kPutBridge:
      replace(state.mutable_bridges(), change.put_bridge().name(), &change.put_bridge());
      break;
    case JournalRecord::kDeleteBridge:
      replace(state.mutable_bridges(), change.delete_bridge(), static_cast<const vhostd::v1::Bridge*>(nullptr));
      break;
    case JournalRecord::kPutPin:
      replace(state.mutable_pins(), PinName(change.put_pin()), &change.put_pin());
      break;
    case JournalRecord::kDeletePin:
      replace(state.mutable_pins(), PinName(change.delete_pin()), static_cast<const vhostd::v1::QueuePin*>(nullptr));
      break;
    case JournalRecord::CHANGE_NOT_SET:
      break;
  }
}

StateStore::~StateStore() {
  absl::MutexLock lock(&sync_mu_);
  if (sync_fd_ >= 0) close(sync_fd_);
}

absl::Status StateStore::Append(const JournalRecord& change, const std::function<DesiredState()>& state_before) {
  absl::StatusOr<uint64_t> seq = Write(change, state_before);
  return seq.ok() ? WaitDurable(*seq) : seq.status();
}

absl::StatusOr<uint64_t> StateStore::Write(const JournalRecord& change,
                                           const std::function<DesiredState()>& state_before) {
  if (NeedsRecovery()) {
    return absl::FailedPreconditionError(
        absl::StrCat("an earlier sync of ", journal_path(), " failed; a new snapshot must be saved first"));
  }
  std::string line;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (auto s = google::protobuf::util::MessageToJsonString(change, &line, options); !s.ok()) {
    return absl::InternalError(std::string(s.message()));
  }
  line += '\n';
  if (absl::Status s = AppendLine(line); !s.ok()) return s;
  uint64_t seq;
  {
    absl::MutexLock lock(&sync_mu_);
    seq = ++written_;
  }
  if (++journal_records_ >= compact_after_) {
    DesiredState state = state_before();
    ApplyChange(change, state);
    // On success the snapshot holds every record written; on failure the journal
    // still does, and the compaction is retried with the next change.
    Save(state).IgnoreError();
  }
  return seq;
}

absl::Status StateStore::WaitDurable(uint64_t seq) {
  sync_mu_.Lock();
  while (true) {
    if (durable_ >= seq) break;
    if (failed_through_ >= seq) {
      absl::Status error = sync_error_;
      sync_mu_.Unlock();
      return error;
    }
    if (syncing_) {
      sync_mu_.Await(absl::Condition(
          +[](bool* syncing) { return !*syncing; }, &syncing_));
      continue;
    }
    // This waiter syncs for every record written so far.
    syncing_ = true;
    const uint64_t target = written_;
    const int fd = sync_fd_ >= 0 ? fcntl(sync_fd_, F_DUPFD_CLOEXEC, 0) : -1;
    sync_mu_.Unlock();
    const bool synced = fd >= 0 && sync_(fd) == 0;
    const absl::Status error = synced ? absl::OkStatus() : Errno(absl::StrCat("fdatasync ", journal_path()));
    if (fd >= 0) close(fd);
    sync_mu_.Lock();
    syncing_ = false;
    if (synced) {
      durable_ = std::max(durable_, target);
    } else {
      failed_through_ = written_;
      sync_error_ = error;
      needs_recovery_ = true;
    }
  }
  sync_mu_.Unlock();
  return absl::OkStatus();
}

bool StateStore::NeedsRecovery() {
  absl::MutexLock lock(&sync_mu_);
  return needs_recovery_;
}

absl::Status StateStore::Recover(const DesiredState& state) {
  absl::MutexLock lock(&sync_mu_);
  if (!needs_recovery_) return absl::OkStatus();
  if (absl::Status s = SaveLocked(state); !s.ok()) return s;
  needs_recovery_ = false;
  return absl::OkStatus();
}

absl::Status StateStore::AppendLine(const std::string& line) {
  const std::string journal = journal_path();
  const bool created = access(journal.c_str(), F_OK) != 0;
  int fd = open(journal.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("open ", journal));
  // Writes go at the end of the complete records: a torn tail left by a crash, or by a
  // failed append, is overwritten.
  absl::Status status;
  if (ftruncate(fd, static_cast<off_t>(journal_size_)) != 0 || lseek(fd, 0, SEEK_END) < 0) {
    status = Errno(absl::StrCat("truncate ", journal));
  }
  if (status.ok()) status = WriteAll(fd, line);
  if (!status.ok()) {
    if (ftruncate(fd, static_cast<off_t>(journal_size_)) != 0) {
      // Left torn: the next append or load drops the tail.
    }
    close(fd);
    return status;
  }
  journal_size_ += line.size();
  // A new file's directory entry must be durable too, or the record could vanish.
  if (created) FsyncDirectoryOf(journal).IgnoreError();
  // Kept open for the next sync (fdatasync of any fd of the file syncs all its writes).
  absl::MutexLock lock(&sync_mu_);
  if (sync_fd_ >= 0) close(sync_fd_);
  sync_fd_ = fd;
  return absl::OkStatus();
}

void StateStore::SetCompactionPoint(const DesiredState& snapshot) {
  compact_after_ = std::max<uint64_t>(kMinRecordsBeforeCompaction,
                                      static_cast<uint64_t>(snapshot.ports_size() + snapshot.cross_connects_size() +
                                                            snapshot.bridges_size()));
}

absl::Status StateStore::Save(const DesiredState& state) {
  absl::MutexLock lock(&sync_mu_);
  return SaveLocked(state);
}

absl::Status StateStore::SaveLocked(const DesiredState& state) {
  // Not while a waiter syncs the journal this empties.
  sync_mu_.Await(absl::Condition(+[](bool* syncing) { return !*syncing; }, &syncing_));
  DesiredState copy = state;
  copy.set_format_version(kFormatVersion);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  auto printed = google::protobuf::util::MessageToJsonString(copy, &json, options);
  if (!printed.ok()) return absl::InternalError(std::string(printed.message()));

  const std::string temp = absl::StrCat(path_, ".tmp");
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("open ", temp));
  absl::Status status = WriteAll(fd, json);
  if (status.ok() && fsync(fd) != 0) status = Errno(absl::StrCat("fsync ", temp));
  close(fd);
  if (status.ok() && rename(temp.c_str(), path_.c_str()) != 0) {
    status = Errno(absl::StrCat("rename ", temp, " to ", path_));
  }
  if (!status.ok()) {
    unlink(temp.c_str());
    return status;
  }
  // The rename is the commit point: the new state is what a restart reads. A failed
  // directory fsync can't be undone and must not make the caller roll back a change
  // that is already visible, so it is not reported as a failure; the journal is then
  // kept (replaying it onto the new snapshot changes nothing).
  if (!FsyncDirectoryOf(path_).ok()) return absl::OkStatus();
  durable_ = written_;  // the caller's state holds every record written
  SetCompactionPoint(copy);
  if (truncate(journal_path().c_str(), 0) == 0 || errno == ENOENT) journal_size_ = journal_records_ = 0;
  return absl::OkStatus();
}

}  // namespace vhostd
