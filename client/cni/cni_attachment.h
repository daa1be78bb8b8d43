// What vhostd-cni makes for one attachment (CNI_CONTAINERID, CNI_IFNAME) and the names
// it gives them, all derived from the attachment alone so that DEL, CHECK and a repeated
// ADD find them again without any state (after a daemon restart too).
#ifndef VHOSTD_CLIENT_CNI_CNI_ATTACHMENT_H_
#define VHOSTD_CLIENT_CNI_CNI_ATTACHMENT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "client/cni/cni_config.h"
#include "client/cni/cni_env.h"

namespace vhostd_cni {

// sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxSocketPath = 107;

// Labels vhostd-cni puts on its ports (vhostd.v1.Port.labels).
inline constexpr char kLabelNetwork[] = "cni.network";
inline constexpr char kLabelContainerId[] = "cni.container_id";
inline constexpr char kLabelIfname[] = "cni.ifname";
inline constexpr char kLabelPodName[] = "k8s.pod.name";
inline constexpr char kLabelPodNamespace[] = "k8s.pod.namespace";

struct AttachmentNames {
  std::string port;         // "cni-" + 16 hex digits of SHA-256(container ID "/" ifname)
  std::string socket_dir;   // vhost-user: <vhostUser.socketDir>/<port>
  std::string socket_path;  // vhost-user: <socket_dir>/<ifname>.sock
  std::string cache_file;   // <stateDir>/results/<port>.json: the ADD result
};

// The names for (container_id, ifname). For vhost-user, kInvalidConfig naming
// vhostUser.socketDir when the socket path would not fit sun_path.
absl::StatusOr<AttachmentNames> NamesFor(const NetConf& net, const std::string& container_id,
                                         const std::string& ifname);

// The socket directory and the result cache of the attachment whose port is `port`
// ("" for the directory when the network's ports are not vhost-user).
std::string SocketDirOf(const NetConf& net, const std::string& port);
std::string CacheFileOf(const NetConf& net, const std::string& port);
// The directory of the result caches.
std::string CacheDirOf(const NetConf& net);

// The port's labels: the network, the attachment, and the pod from CNI_ARGS
// (K8S_POD_NAME, K8S_POD_NAMESPACE) when the runtime passes them. Each value is
// LabelValue() of the original.
std::map<std::string, std::string> LabelsFor(const NetConf& net, const Environment& env,
                                             const std::map<std::string, std::string>& cni_args);

// `text` when it is a valid label value (at most 63 of [A-Za-z0-9._-], starting and
// ending alphanumeric), else "sha256-" and 32 hex digits of its SHA-256: exact for
// comparisons and selectors, though not readable (a 64-digit container ID).
std::string LabelValue(const std::string& text);

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_ATTACHMENT_H_
