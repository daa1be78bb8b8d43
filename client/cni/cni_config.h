// The network configuration a runtime gives vhostd-cni on stdin, parsed and validated
// before anything is changed. What each key means is in README.md ("CNI plugin").
#ifndef VHOSTD_CLIENT_CNI_CNI_CONFIG_H_
#define VHOSTD_CLIENT_CNI_CNI_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace vhostd_cni {

inline constexpr char kDefaultServer[] = "unix:/run/vhostd/vhostd.sock";
inline constexpr char kDefaultStateDir[] = "/var/lib/cni/vhostd-cni";

// Where and how a vhost-user port's socket is made.
struct VhostUserOptions {
  std::string socket_dir;         // absolute host path inside vhostd's --socket-dir
  bool vhostd_is_server = true;   // "mode": "server" (vhostd listens) or "client"
  std::optional<uint32_t> owner;  // of the attachment's directory and socket
  std::optional<uint32_t> group;
  uint32_t permissions = 0660;    // of the socket; the directory gets x where r is set
};

// "xconnect": patch the port to another one. With `peer`: that existing port. Without:
// the other attachment of this network that names the same cross-connect.
struct XconnectOptions {
  std::string name;
  std::string peer;
};

// "bridge": add the port to this vhostd bridge (made with the daemon's defaults when
// missing), as an access port of `access_vlan` or a trunk of `trunk_vlans` when set
// (at most one of them).
struct BridgeOptions {
  std::string name;
  uint32_t access_vlan = 0;
  std::vector<uint32_t> trunk_vlans;
};

struct Attachment {
  std::string container_id;
  std::string ifname;
};

struct NetConf {
  nlohmann::json raw;  // the whole document, as delegated plugins get it
  std::string cni_version;
  std::string name;
  std::string server = kDefaultServer;
  int timeout_ms = 10000;  // deadline of each call to vhostd and of each delegated plugin
  std::string state_dir = kDefaultStateDir;
  std::string port_type;
  nlohmann::json spec = nlohmann::json::object();  // the type's spec, protobuf JSON
  VhostUserOptions vhost_user;
  std::vector<std::string> vdpa_devices;  // the pool of "vdpa": {"devices": [...]}
  std::optional<XconnectOptions> xconnect;
  std::optional<BridgeOptions> bridge;
  std::string mac;   // vhost-kernel: runtimeConfig.mac, else "mac"
  uint32_t mtu = 0;  // vhost-kernel: "mtu"
  std::string ipam_type;                    // "" without "ipam"
  std::optional<nlohmann::json> prev_result;
  std::string device_info_file;             // runtimeConfig.CNIDeviceInfoFile
  std::vector<Attachment> valid_attachments;  // GC: cni.dev/valid-attachments
};

// Parses the whole config for `command` (ADD, DEL, CHECK, STATUS, GC). Errors carry the
// spec's codes: kDecodingFailure for text that is not a JSON object, kIncompatibleVersion
// for a cniVersion vhostd-cni does not speak (or too old for CHECK, STATUS, GC),
// kInvalidConfig naming the field for a missing or malformed value, kUnsupportedField
// for an unknown key inside vhostd-cni's own objects (key and value in the message).
absl::StatusOr<NetConf> ParseNetConf(const std::string& text, const std::string& command);

// VERSION: the cniVersion of the input ("" for empty input, which means the latest).
absl::StatusOr<std::string> ParseVersionRequest(const std::string& text);

// "0660" -> 0660; nullopt unless 1-4 octal digits <= 0777.
std::optional<uint32_t> ParseMode(const std::string& text);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_CONFIG_H_
