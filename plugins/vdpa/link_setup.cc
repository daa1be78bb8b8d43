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
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace vhostd {
namespace {

using SocketPtr = std::unique_ptr<nl_sock, decltype(&nl_socket_free)>;
using LinkPtr = std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)>;
using AddressPtr = std::unique_ptr<nl_addr, decltype(&nl_addr_put)>;

// A route netlink socket in the namespace at `netns_path` ("": the caller's). A socket
// stays in the namespace it was made in, so a short-lived thread (setns changes only
// the calling thread) makes it there and the daemon's threads stay where they are.
absl::StatusOr<SocketPtr> RouteSocket(const std::string& netns_path) {
  SocketPtr sock(nl_socket_alloc(), &nl_socket_free);
  if (!sock) return absl::ResourceExhaustedError("netlink socket: out of memory");
  int err = 0;
  absl::Status entered;
  if (netns_path.empty()) {
    err = nl_connect(sock.get(), NETLINK_ROUTE);
  } else {
    const int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return absl::NotFoundError(absl::StrCat("netns ", netns_path, ": ", strerror(errno)));
    std::thread maker([&] {
      if (setns(ns, CLONE_NEWNET) != 0) {
        entered = absl::InternalError(absl::StrCat("enter netns ", netns_path, ": ", strerror(errno)));
      } else {
        err = nl_connect(sock.get(), NETLINK_ROUTE);
      }
    });
    maker.join();
    close(ns);
  }
  if (!entered.ok()) return entered;
  if (err < 0) return absl::InternalError(absl::StrCat("netlink connect: ", nl_geterror(err)));
  return sock;
}

// Applies what `fill` sets on a change object to the link `ifname` in `netns_path`.
absl::Status ChangeLink(const std::string& ifname, const std::string& netns_path,
                        const std::function<absl::Status(rtnl_link*)>& fill) {
  absl::StatusOr<SocketPtr> sock = RouteSocket(netns_path);
  if (!sock.ok()) return sock.status();
  rtnl_link* found = nullptr;
  if (int err = rtnl_link_get_kernel(sock->get(), 0, ifname.c_str(), &found); err < 0) {
    return absl::NotFoundError(absl::StrCat("interface ", ifname, ": ", nl_geterror(err)));
  }
  LinkPtr current(found, &rtnl_link_put);
  LinkPtr change(rtnl_link_alloc(), &rtnl_link_put);
  if (!change) return absl::ResourceExhaustedError("netlink link: out of memory");
  if (absl::Status s = fill(change.get()); !s.ok()) return s;
  if (int err = rtnl_link_change(sock->get(), current.get(), change.get(), 0); err < 0) {
    return absl::FailedPreconditionError(absl::StrCat("the kernel refused: ", nl_geterror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SetLinkMtu(const std::string& ifname, uint32_t mtu) {
  return ChangeLink(ifname, "", [&](rtnl_link* change) {
    rtnl_link_set_mtu(change, mtu);
    return absl::OkStatus();
  });
}

absl::Status SetLinkMac(const std::string& ifname, const std::string& mac, const std::string& netns_path) {
  return ChangeLink(ifname, netns_path, [&](rtnl_link* change) -> absl::Status {
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
  absl::Status status = ChangeLink(ifname, "", [&](rtnl_link* change) {
    if (netns_fd >= 0) rtnl_link_set_ns_fd(change, netns_fd);
    if (new_name != ifname) rtnl_link_set_name(change, new_name.c_str());
    rtnl_link_set_flags(change, IFF_UP);
    return absl::OkStatus();
  });
  if (netns_fd >= 0) close(netns_fd);
  return status;
}

}  // namespace vhostd
