#include "client/cni/cni_attachment.h"

#include <openssl/evp.h>

#include <cctype>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "client/cni/cni_error.h"

namespace vhostd_cni {
namespace {

std::string Sha256Hex(const std::string& text, size_t hex_digits) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length)).substr(0, hex_digits);
}

}  // namespace

std::string SocketDirOf(const NetConf& net, const std::string& port) {
  return net.port_type == "vhost-user" ? absl::StrCat(net.vhost_user.socket_dir, "/", port) : "";
}

std::string CacheDirOf(const NetConf& net) { return absl::StrCat(net.state_dir, "/results"); }

std::string CacheFileOf(const NetConf& net, const std::string& port) {
  return absl::StrCat(CacheDirOf(net), "/", port, ".json");
}

absl::StatusOr<AttachmentNames> NamesFor(const NetConf& net, const std::string& container_id,
                                         const std::string& ifname) {
  AttachmentNames names;
  names.port = absl::StrCat("cni-", Sha256Hex(absl::StrCat(container_id, "/", ifname), 16));
  names.cache_file = CacheFileOf(net, names.port);
  if (net.port_type != "vhost-user") return names;
  names.socket_dir = SocketDirOf(net, names.port);
  names.socket_path = absl::StrCat(names.socket_dir, "/", ifname, ".sock");
  if (names.socket_path.size() > kMaxSocketPath) {
    const size_t room = kMaxSocketPath - (names.socket_path.size() - net.vhost_user.socket_dir.size());
    return CniError(kInvalidConfig,
                    absl::StrCat("vhostUser.socketDir: the socket path ", names.socket_path, " has ",
                                 names.socket_path.size(), " bytes; a Unix socket path must be under 108"),
                    absl::StrCat("with CNI_IFNAME ", ifname, " the socket directory may have at most ", room,
                                 " bytes"));
  }
  return names;
}

std::string LabelValue(const std::string& text) {
  const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool valid = !text.empty() && text.size() <= 63 && alnum(text.front()) && alnum(text.back());
  for (char c : text) valid = valid && (alnum(c) || c == '.' || c == '_' || c == '-');
  return valid ? text : absl::StrCat("sha256-", Sha256Hex(text, 32));
}

std::map<std::string, std::string> LabelsFor(const NetConf& net, const Environment& env,
                                             const std::map<std::string, std::string>& cni_args) {
  std::map<std::string, std::string> labels = {
      {kLabelNetwork, LabelValue(net.name)},
      {kLabelContainerId, LabelValue(env.container_id)},
      {kLabelIfname, LabelValue(env.ifname)}};
  if (auto it = cni_args.find("K8S_POD_NAME"); it != cni_args.end() && !it->second.empty()) {
    labels[kLabelPodName] = LabelValue(it->second);
  }
  if (auto it = cni_args.find("K8S_POD_NAMESPACE"); it != cni_args.end() && !it->second.empty()) {
    labels[kLabelPodNamespace] = LabelValue(it->second);
  }
  return labels;
}

}  // namespace vhostd_cni
