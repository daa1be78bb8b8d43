#include "server/state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "server/stored_port.h"

namespace vhostd {
namespace {

// 2: ports carry a type and an Any spec. 1: a closed oneof of three types (read and
// migrated; written no more).
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kOldestReadableVersion = 1;

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

absl::Status FsyncDirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("open ", dir));
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno(absl::StrCat("fsync ", dir));
}

}  // namespace

absl::StatusOr<vhostd::state::DesiredState> StateStore::Load() const {
  vhostd::state::DesiredState state;
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return state;
    return absl::FailedPreconditionError(absl::StrCat("state file ", path_, " cannot be read: ", strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &state, options);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("state file ", path_, " is corrupt (", std::string(parsed.message()),
                                            "); it was left untouched: fix or move it away to start afresh"));
  }
  if (state.format_version() < kOldestReadableVersion || state.format_version() > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("state file ", path_, " has format_version ",
                                                      state.format_version(), "; this vhostd reads ",
                                                      kOldestReadableVersion, "..", kFormatVersion));
  }
  if (state.format_version() == 1) {
    for (google::protobuf::Struct& port : *state.mutable_ports()) MigrateStoredPortFromVersion1(port);
    state.set_format_version(kFormatVersion);
  }
  return state;
}

absl::Status StateStore::Save(const vhostd::state::DesiredState& state) const {
  vhostd::state::DesiredState copy = state;
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
  // that is already visible, so it is not reported as a failure.
  FsyncDirectoryOf(path_).IgnoreError();
  return absl::OkStatus();
}

}  // namespace vhostd
