#include "plugins/vdpa/link_setup.h"

// <net/if.h> before libnl: linux/if.h (which libnl pulls in) yields to glibc's definitions.
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

using SocketPtr = std::unique_ptr<nl_sock, decltype(&nl_socket_free)>;
using LinkPtr = std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)>;
using AddressPtr = std::unique_ptr<nl_addr, decltype(&nl_addr_put)>;

// Applies what `fill` sets on a change object to the link `ifname`.
absl::Status ChangeLink(const std::string& ifname, const std::function<absl::Status(rtnl_link*)>& fill) {
  SocketPtr sock(nl_socket_alloc(), &nl_socket_free);
  if (!sock) return absl::ResourceExhaustedError("netlink socket: out of memory");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
    return absl::InternalError(absl::StrCat("netlink connect: ", nl_geterror(err)));
  }
  rtnl_link* found = nullptr;
  if (int err = rtnl_link_get_kernel(sock.get(), 0, ifname.c_str(), &found); err < 0) {
    return absl::NotFoundError(absl::StrCat("interface ", ifname, ": ", nl_geterror(err)));
  }
  LinkPtr current(found, &rtnl_link_put);
  LinkPtr change(rtnl_link_alloc(), &rtnl_link_put);
  if (!change) return absl::ResourceExhaustedError("netlink link: out of memory");
  if (absl::Status s = fill(change.get()); !s.ok()) return s;
  if (int err = rtnl_link_change(sock.get(), current.get(), change.get(), 0); err < 0) {
    return absl::FailedPreconditionError(absl::StrCat("the kernel refused: ", nl_geterror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SetLinkMtu(const std::string& ifname, uint32_t mtu) {
  return ChangeLink(ifname, [&](rtnl_link* change) {
    rtnl_link_set_mtu(change, mtu);
    return absl::OkStatus();
  });
}

absl::Status SetLinkMac(const std::string& ifname, const std::string& mac) {
  return ChangeLink(ifname, [&](rtnl_link* change) -> absl::Status {
    nl_addr* parsed = nullptr;
    if (int err = nl_addr_parse(mac.c_str(), AF_LLC, &parsed); err < 0) {
      return absl::InvalidArgumentError(absl::StrCat("MAC ", mac, ": ", nl_geterror(err)));
    }
    AddressPtr address(parsed, &nl_addr_put);
    rtnl_link_set_addr(change, address.get());  // takes its own reference
    return absl::OkStatus();
  });
}

absl::Status MoveLinkUp(const std::string& ifname, const std::string& netns_path, const std::string& new_name) {
  int netns_fd = -1;
  if (!netns_path.empty()) {
    netns_fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) return absl::NotFoundError(absl::StrCat("netns ", netns_path, ": ", strerror(errno)));
  }
  absl::Status status = ChangeLink(ifname, [&](rtnl_link* change) {
    if (netns_fd >= 0) rtnl_link_set_ns_fd(change, netns_fd);
    if (new_name != ifname) rtnl_link_set_name(change, new_name.c_str());
    rtnl_link_set_flags(change, IFF_UP);
    return absl::OkStatus();
  });
  if (netns_fd >= 0) close(netns_fd);
  return status;
}

}  // namespace vhostd
