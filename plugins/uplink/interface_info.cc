#include "plugins/uplink/interface_info.h"

// <net/if.h> before the <linux/...> headers: linux/if.h yields to glibc's definitions.
#include <net/if.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vhostd::uplink {
namespace {

// The first line of a sysfs attribute without surrounding space, or "" if it can't be
// read (the carrier of a device that is down reads as an error, for example).
std::string ReadAttribute(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

uint64_t ReadNumber(const std::string& path) {
  std::string text = ReadAttribute(path);
  uint64_t value = 0;
  if (absl::StartsWith(text, "0x")) return absl::SimpleHexAtoi(text.substr(2), &value) ? value : 0;
  return absl::SimpleAtoi(text, &value) ? value : 0;
}

// Whether the tap behind descriptor `fd` of this process lives in this process's network
// namespace (a pod's tap of the same name in its own namespace is another interface).
// True when the kernel can't tell (TUNGETDEVNETNS is Linux 5.2).
bool TapInOurNamespace(int fd) {
  const int netns = ioctl(fd, TUNGETDEVNETNS);
  if (netns < 0) return true;
  struct stat tap_ns{}, our_ns{};
  const bool same = fstat(netns, &tap_ns) == 0 && stat("/proc/self/ns/net", &our_ns) == 0 &&
                    tap_ns.st_ino == our_ns.st_ino && tap_ns.st_dev == our_ns.st_dev;
  close(netns);
  return same;
}

}  // namespace

absl::Status CheckInterfaceName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("required (the name of an existing interface)");
  if (name.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CEscape(name.substr(0, 64)), "\" is longer than ", IFNAMSIZ - 1, " characters"));
  }
  if (name == "." || name == "..") return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" is not an interface name"));
  for (const char c : name) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", absl::CEscape(name), "\" is not an interface name (no '/', ':', spaces or control characters)"));
    }
    // Linux allows these, but DPDK's device arguments ("iface=NAME,qpairs=N") would cut
    // the name there, or read the rest as arguments of their own.
    if (c == ',' || c == '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", name, "\" contains '", std::string(1, c), "', which DPDK's device arguments can't carry"));
    }
  }
  return absl::OkStatus();
}

InterfaceInfo ReadInterfaceInfo(const std::string& name, const std::string& sysfs_net) {
  InterfaceInfo info;
  if (!CheckInterfaceName(name).ok()) return info;
  const std::string dir = sysfs_net + "/" + name;
  if (ReadAttribute(dir + "/ifindex").empty()) return info;
  info.exists = true;
  info.ifindex = static_cast<int>(ReadNumber(dir + "/ifindex"));
  const uint64_t flags = ReadNumber(dir + "/flags");
  info.admin_up = (flags & IFF_UP) != 0;
  info.promiscuous = (flags & IFF_PROMISC) != 0;
  info.carrier = info.admin_up && ReadAttribute(dir + "/carrier") == "1";
  info.mtu = static_cast<uint32_t>(ReadNumber(dir + "/mtu"));
  info.mac = ReadAttribute(dir + "/address");
  info.operstate = ReadAttribute(dir + "/operstate");
  info.rx_packets = ReadNumber(dir + "/statistics/rx_packets");
  info.tx_packets = ReadNumber(dir + "/statistics/tx_packets");
  info.rx_dropped = ReadNumber(dir + "/statistics/rx_dropped");
  info.tx_dropped = ReadNumber(dir + "/statistics/tx_dropped");
  return info;
}

uint32_t CombinedChannels(const std::string& name) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  ifreq request{};
  strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&channels);
  const int rc = ioctl(fd, SIOCETHTOOL, &request);
  const int error = errno;
  close(fd);
  // The rule of net_af_xdp's xdp_get_channels_info().
  if (rc != 0 && error != EOPNOTSUPP) return 0;
  if (rc != 0 || channels.max_combined == 0) return 1;
  return channels.combined_count;
}

XdpProgram QueryXdp(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, opts);
  XdpProgram program;
  if (ifindex <= 0 || bpf_xdp_query(ifindex, 0, &opts) != 0) return program;
  program.id = opts.prog_id != 0 ? opts.prog_id : (opts.drv_prog_id | opts.skb_prog_id | opts.hw_prog_id);
  switch (opts.attach_mode) {
    case XDP_ATTACHED_DRV: program.mode = "native"; break;
    case XDP_ATTACHED_SKB: program.mode = "generic"; break;
    case XDP_ATTACHED_HW: program.mode = "offload"; break;
    case XDP_ATTACHED_MULTI: program.mode = "multi"; break;
    default: break;
  }
  return program;
}

bool IsOwnTap(const std::string& name, const std::string& proc_self) {
  DIR* fds = opendir((proc_self + "/fd").c_str());
  if (fds == nullptr) return false;
  bool found = false;
  while (dirent* entry = readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    char target[32] = {};
    const std::string fd_path = absl::StrCat(proc_self, "/fd/", entry->d_name);
    if (readlink(fd_path.c_str(), target, sizeof(target) - 1) <= 0 || strcmp(target, "/dev/net/tun") != 0) continue;
    // The tun driver names the interface a descriptor is attached to in its fdinfo.
    std::ifstream fdinfo(absl::StrCat(proc_self, "/fdinfo/", entry->d_name));
    for (std::string line; !found && std::getline(fdinfo, line);) {
      found = absl::StartsWith(line, "iff:") && absl::StripAsciiWhitespace(line.substr(4)) == name;
    }
    // Descriptor numbers are this process's only when looking at the real /proc/self.
    if (found && proc_self == "/proc/self") found = TapInOurNamespace(atoi(entry->d_name));
    if (found) break;
  }
  closedir(fds);
  return found;
}

}  // namespace vhostd::uplink
