// IPAM delegated the standard way (SPEC.md, section 4): the plugin named by ipam.type,
// found in CNI_PATH, run with the same environment and the whole network config.
//
// A delegated plugin that does not speak the config's cniVersion (Debian's host-local
// 1.1.1 stops at 1.0.0) is given the newest version both speak, with prevResult in that
// version; STATUS and GC are forwarded only to a plugin that speaks 1.1.0.
#ifndef VHOSTD_CLIENT_CNI_CNI_IPAM_H_
#define VHOSTD_CLIENT_CNI_CNI_IPAM_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cni/cni_config.h"
#include "client/cni/cni_env.h"
#include "client/cni/cni_result.h"

namespace vhostd_cni {

class Ipam {
 public:
  Ipam(const NetConf& net, const Environment& env) : net_(net), env_(env) {}

  bool configured() const { return !net_.ipam_type.empty(); }

  // ADD: the addresses, routes and DNS the plugin allocated.
  absl::StatusOr<Result> Add();
  // DEL for the attachment (container_id, ifname); the environment's by default.
  absl::Status Del(const std::string& container_id, const std::string& ifname);
  absl::Status Del() { return Del(env_.container_id, env_.ifname); }
  absl::Status Check();
  // STATUS and GC: forwarded when the plugin speaks 1.1.0; *forwarded says whether.
  absl::Status Status(bool* forwarded);
  absl::Status Gc(bool* forwarded);

 private:
  absl::StatusOr<std::string> Program();
  absl::StatusOr<std::string> VersionFor(const std::string& wanted);
  // Runs `command`; its stdout on success, its error (code kept, msg prefixed) otherwise.
  absl::StatusOr<std::string> Run(const std::string& command, const std::string& version,
                                  const std::vector<std::string>& env_overrides);

  const NetConf& net_;
  const Environment& env_;
  std::optional<std::string> program_;
  std::optional<std::vector<std::string>> their_versions_;
};

}  // namespace vhostd_cni

#endif  // VHOSTD_CLIENT_CNI_CNI_IPAM_H_
