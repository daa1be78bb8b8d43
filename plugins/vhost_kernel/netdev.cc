#include "plugins/vhost_kernel/netdev.h"

#include <errno.h>
// <net/if.h> before the <linux/...> headers: linux/if.h yields to glibc's definitions.
#include <net/if.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "dataplane/capabilities.h"

namespace vhostd {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

// An AF_INET datagram socket: the handle the SIOC* interface ioctls need.
class IoctlSocket {
 public:
  IoctlSocket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~IoctlSocket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

ifreq Request(const std::string& ifname) {
  ifreq req{};
  strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  return req;
}

absl::Status SetUp(int sock, const std::string& ifname) {
  ifreq req = Request(ifname);
  if (ioctl(sock, SIOCGIFFLAGS, &req) != 0) return Errno(absl::StrCat("get flags of ", ifname));
  req.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &req) != 0) return Errno(absl::StrCat("bring ", ifname, " up"));
  return absl::OkStatus();
}

// Runs `fn` in a thread that has joined the network namespace at `netns_path`; setns
// changes only the calling thread, so the daemon's other threads are unaffected.
absl::Status RunInNamespace(const std::string& netns_path, const std::function<absl::Status()>& fn) {
  int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return absl::NotFoundError(absl::StrCat("netns ", netns_path, ": ", strerror(errno)));
  absl::Status status;
  std::thread worker([&] {
    if (setns(ns, CLONE_NEWNET) != 0) {
      const bool denied = errno == EPERM;
      status = Errno(absl::StrCat("enter netns ", netns_path));
      if (denied) status = absl::PermissionDeniedError(absl::StrCat(status.message(), LacksCapabilityNote(CAP_SYS_ADMIN, "CAP_SYS_ADMIN")));
      return;
    }
    status = fn();
  });
  worker.join();
  close(ns);
  return status;
}

// RTM_NEWLINK with IFLA_NET_NS_FD: the netlink request behind `ip link set X netns Y`.
absl::Status NetlinkMoveLink(int ifindex, int netns_fd) {
  struct {
    nlmsghdr header;
    ifinfomsg info;
    char attrs[64];
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  request.header.nlmsg_type = RTM_NEWLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.info.ifi_family = AF_UNSPEC;
  request.info.ifi_index = ifindex;
  auto* attr = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&request) + NLMSG_ALIGN(request.header.nlmsg_len));
  attr->rta_type = IFLA_NET_NS_FD;
  attr->rta_len = RTA_LENGTH(sizeof(uint32_t));
  const uint32_t fd = static_cast<uint32_t>(netns_fd);
  memcpy(RTA_DATA(attr), &fd, sizeof(fd));
  request.header.nlmsg_len = NLMSG_ALIGN(request.header.nlmsg_len) + RTA_ALIGN(attr->rta_len);

  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return Errno("netlink socket");
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  absl::Status status;
  if (sendto(sock, &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    status = Errno("netlink send");
  } else {
    char reply[4096];
    const ssize_t n = recv(sock, reply, sizeof(reply), 0);
    const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
    if (n < 0) {
      status = Errno("netlink receive");
    } else if (NLMSG_OK(header, static_cast<size_t>(n)) && header->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
      if (error->error != 0) status = absl::InternalError(absl::StrCat("move link: ", strerror(-error->error)));
    }
  }
  close(sock);
  return status;
}

}  // namespace

absl::StatusOr<MacAddress> ParseUnicastMac(const std::string& text) {
  MacAddress mac{};
  unsigned b[6];
  char extra;
  if (sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6 ||
      text.size() != 17 || text.find_first_not_of("0123456789abcdefABCDEF:") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a MAC address (xx:xx:xx:xx:xx:xx)"));
  }
  bool zero = true;
  for (int i = 0; i < 6; ++i) {
    mac[i] = static_cast<uint8_t>(b[i]);
    zero = zero && mac[i] == 0;
  }
  if (zero || (mac[0] & 1)) return absl::InvalidArgumentError(absl::StrCat(text, " is not a unicast address"));
  return mac;
}

std::string FormatMac(const MacAddress& m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

bool ValidInterfaceName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

bool InterfaceExists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

absl::Status ConfigureInterface(const std::string& ifname, const MacAddress* mac, uint32_t mtu) {
  IoctlSocket sock;
  if (sock.fd() < 0) return Errno("socket");
  if (mac != nullptr) {
    ifreq req = Request(ifname);
    req.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(req.ifr_hwaddr.sa_data, mac->data(), mac->size());
    if (ioctl(sock.fd(), SIOCSIFHWADDR, &req) != 0) return Errno(absl::StrCat("set address of ", ifname));
  }
  if (mtu != 0) {
    ifreq req = Request(ifname);
    req.ifr_mtu = static_cast<int>(mtu);
    if (ioctl(sock.fd(), SIOCSIFMTU, &req) != 0) return Errno(absl::StrCat("set MTU of ", ifname));
  }
  return SetUp(sock.fd(), ifname);
}

absl::Status MoveToNamespace(const std::string& ifname, const std::string& netns_path, const std::string& new_name) {
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return Errno(absl::StrCat("find ", ifname));
  int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return absl::NotFoundError(absl::StrCat("netns ", netns_path, ": ", strerror(errno)));
  absl::Status moved = NetlinkMoveLink(static_cast<int>(ifindex), ns);
  close(ns);
  if (!moved.ok()) return moved;
  return RunInNamespace(netns_path, [&]() -> absl::Status {
    IoctlSocket sock;
    if (sock.fd() < 0) return Errno("socket");
    if (new_name != ifname) {
      ifreq req = Request(ifname);
      strncpy(req.ifr_newname, new_name.c_str(), IFNAMSIZ - 1);
      if (ioctl(sock.fd(), SIOCSIFNAME, &req) != 0) {
        return Errno(absl::StrCat("rename ", ifname, " to ", new_name, " in ", netns_path));
      }
    }
    return SetUp(sock.fd(), new_name);
  });
}

InterfaceState ReadInterface(const std::string& ifname, const std::string& netns_path) {
  InterfaceState state;
  auto read = [&]() -> absl::Status {
    IoctlSocket sock;
    ifreq req = Request(ifname);
    if (ioctl(sock.fd(), SIOCGIFFLAGS, &req) != 0) return absl::OkStatus();
    state.exists = true;
    state.up = (req.ifr_flags & IFF_UP) != 0;
    if (ioctl(sock.fd(), SIOCGIFMTU, &req) == 0) state.mtu = static_cast<uint32_t>(req.ifr_mtu);
    if (ioctl(sock.fd(), SIOCGIFHWADDR, &req) == 0) {
      MacAddress mac;
      memcpy(mac.data(), req.ifr_hwaddr.sa_data, mac.size());
      state.mac = FormatMac(mac);
    }
    return absl::OkStatus();
  };
  if (netns_path.empty()) {
    read().IgnoreError();
  } else {
    RunInNamespace(netns_path, read).IgnoreError();
  }
  return state;
}

}  // namespace vhostd
