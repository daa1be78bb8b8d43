#include "plugins/vdpa/vdpa_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "plugins/vdpa/vdpa_claim.pb.h"
#include "plugins/vhost_kernel/netdev.h"

namespace vhostd {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::TextFormat;
using ::vhostd::plugins::vdpa::internal::VdpaClaimRecord;

constexpr char kHeader[] = "# vhostd: vdpa device moved to virtio_vdpa; what to put back when its port goes";
// The only drivers vhostd takes a device from (virtio_vdpa_port.cc's checks).
constexpr char kVhostVdpa[] = "vhost_vdpa";
constexpr size_t kMaxDriverName = 64;
constexpr size_t kMaxRecordBytes = 4096;

bool ValidDriverName(const std::string& name) {
  if (name.empty() || name.size() > kMaxDriverName) return false;
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// Why a field's value can't be one vhostd wrote ("" if it can).
std::string CheckValue(const std::string& field, const std::string& value) {
  if (field == "driver") {
    return value.empty() || value == kVhostVdpa ? "" : "not a driver vhostd takes devices from";
  }
  if (field == "driver_override") return value.empty() || ValidDriverName(value) ? "" : "not a driver name";
  if (field == "device_mac") {
    if (value.empty()) return "";
    absl::StatusOr<MacAddress> mac = ParseUnicastMac(value);
    return mac.ok() ? "" : std::string(mac.status().message());
  }
  if (field == "interface") return ValidInterfaceName(value) ? "" : "not an interface name";
  return value.empty() || value[0] == '/' ? "" : "not an absolute path";  // netns
}

// The parser's first complaint, with its line (1-based).
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (text_.empty()) text_ = absl::StrCat("line ", line + 1, ": ", message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string Render(const VdpaClaim& claim) {
  VdpaClaimRecord record;
  record.set_driver(claim.found.driver);
  record.set_driver_override(claim.found.driver_override);
  record.set_device_mac(claim.device_mac);
  record.set_interface(claim.interface);
  record.set_netns(claim.netns);
  std::string text;
  TextFormat::PrintToString(record, &text);
  return absl::StrCat(kHeader, "\n", text);
}

// Every field present and holding a value vhostd would have written ("" if so).
std::string CheckRecord(const VdpaClaimRecord& record, const TextFormat::ParseInfoTree& where) {
  const auto* reflection = record.GetReflection();
  const auto* descriptor = record.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (!reflection->HasField(record, field)) return absl::StrCat("no ", field->name());
    const std::string wrong = CheckValue(field->name(), reflection->GetString(record, field));
    if (!wrong.empty()) {
      return absl::StrCat("line ", where.GetLocation(field, -1).line + 1, " (", field->name(), "): ", wrong);
    }
  }
  return "";
}

absl::Status WriteAll(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("create ", path, ": ", strerror(errno)));
  const ssize_t written = write(fd, text.data(), text.size());
  const int error = errno;
  const bool closed = close(fd) == 0;
  if (written != static_cast<ssize_t>(text.size()) || !closed) {
    return absl::FailedPreconditionError(
        absl::StrCat("write ", path, ": ", written < 0 ? strerror(error) : "short write or close failed"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string VdpaClaimPath(const std::string& device, const VdpaLocations& locations) {
  return absl::StrCat(locations.claims_dir, "/", device);
}

absl::Status WriteVdpaClaim(const VdpaClaim& claim, const VdpaLocations& locations) {
  const std::string& dir = locations.claims_dir;
  // The parent too (/run/vhostd): nothing else may have made it yet.
  const std::string parent = dir.substr(0, dir.find_last_of('/'));
  if (!parent.empty()) mkdir(parent.c_str(), 0755);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("create ", dir, ": ", strerror(errno)));
  }
  const std::string path = VdpaClaimPath(claim.device, locations);
  const std::string temporary = path + ".tmp";
  if (absl::Status s = WriteAll(temporary, Render(claim)); !s.ok()) {
    unlink(temporary.c_str());
    return s;
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return absl::FailedPreconditionError(absl::StrCat("rename ", temporary, " to ", path, ": ", strerror(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<VdpaClaim> ReadVdpaClaim(const std::string& device, const VdpaLocations& locations) {
  const std::string path = VdpaClaimPath(device, locations);
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) != 0) return absl::NotFoundError(absl::StrCat("no record ", path));
    return absl::DataLossError(absl::StrCat("record ", path, ": cannot be read"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (text.size() > kMaxRecordBytes) return absl::DataLossError(absl::StrCat("record ", path, ": too large"));
  VdpaClaimRecord record;
  TextFormat::ParseInfoTree where;
  FirstError error;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&error);
  parser.WriteLocationsTo(&where);
  const std::string wrong = parser.ParseFromString(text, &record) ? CheckRecord(record, where) : error.text();
  if (!wrong.empty()) return absl::DataLossError(absl::StrCat("record ", path, ": ", wrong));
  VdpaClaim claim;
  claim.device = device;
  claim.found.driver = record.driver();
  claim.found.driver_override = record.driver_override();
  claim.device_mac = record.device_mac();
  claim.interface = record.interface();
  claim.netns = record.netns();
  return claim;
}

void RemoveVdpaClaim(const std::string& device, const VdpaLocations& locations) {
  unlink(VdpaClaimPath(device, locations).c_str());
}

}  // namespace vhostd
