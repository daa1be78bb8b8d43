#include "plugins/vdpa/vdpa_claim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "plugins/vhost_kernel/netdev.h"

namespace vhostd {
namespace {

constexpr char kHeader[] = "# vhostd: vdpa device moved to virtio_vdpa; what to put back when its port goes";
// The keys, in the order they are written; each appears exactly once.
const char* const kKeys[] = {"driver", "driver_override", "device_mac", "interface", "netns"};
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

// Why a parsed value can't be one vhostd wrote ("" if it can).
std::string CheckValue(const std::string& key, const std::string& value) {
  if (key == "driver") {
    return value.empty() || value == kVhostVdpa ? "" : "not a driver vhostd takes devices from";
  }
  if (key == "driver_override") return value.empty() || ValidDriverName(value) ? "" : "not a driver name";
  if (key == "device_mac") {
    if (value.empty()) return "";
    absl::StatusOr<MacAddress> mac = ParseUnicastMac(value);
    return mac.ok() ? "" : std::string(mac.status().message());
  }
  if (key == "interface") return ValidInterfaceName(value) ? "" : "not an interface name";
  if (key == "netns") return value.empty() || value[0] == '/' ? "" : "not an absolute path";
  return "unknown key";
}

std::string Render(const VdpaClaim& claim) {
  const std::map<std::string, std::string> values = {{"driver", claim.found.driver},
                                                     {"driver_override", claim.found.driver_override},
                                                     {"device_mac", claim.device_mac},
                                                     {"interface", claim.interface},
                                                     {"netns", claim.netns}};
  std::string text = absl::StrCat(kHeader, "\n");
  for (const char* key : kKeys) absl::StrAppend(&text, key, "=", values.at(key), "\n");
  return text;
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
  std::map<std::string, std::string> values;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const size_t equals = line.find('=');
    const std::string key(line.substr(0, equals));
    const std::string value(equals == absl::string_view::npos ? "" : line.substr(equals + 1));
    const std::string wrong = equals == absl::string_view::npos ? "no key=value"
                              : values.count(key) != 0         ? "repeated key"
                                                               : CheckValue(key, value);
    if (!wrong.empty()) {
      return absl::DataLossError(absl::StrCat("record ", path, " line ", line_number, " (", line, "): ", wrong));
    }
    values[key] = value;
  }
  for (const char* key : kKeys) {
    if (values.count(key) == 0) return absl::DataLossError(absl::StrCat("record ", path, ": no ", key));
  }
  VdpaClaim claim;
  claim.device = device;
  claim.found.driver = values["driver"];
  claim.found.driver_override = values["driver_override"];
  claim.device_mac = values["device_mac"];
  claim.interface = values["interface"];
  claim.netns = values["netns"];
  return claim;
}

void RemoveVdpaClaim(const std::string& device, const VdpaLocations& locations) {
  unlink(VdpaClaimPath(device, locations).c_str());
}

}  // namespace vhostd
