/* POLLRDHUP */
#define _GNU_SOURCE
#include "plugins/vhost_user/control_channel.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/sockios.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_vhost.h>

/* Each vid's connection: vhostd's own duplicate of its fd, + 1 (0 while unknown), and
 * the socket's inode. The duplicate keeps the socket open a moment after lib/vhost closes
 * its fd, so vhostd can still tell whether the frontend had hung up; the inode tells an
 * adopted socket from a new one. Written on lib/vhost's event thread, its reconnect
 * thread (client mode) and the thread that stops a port. */
static atomic_int connection_fds[RTE_MAX_VHOST_DEVICE];
static _Atomic unsigned long connection_inodes[RTE_MAX_VHOST_DEVICE];

static unsigned long inode_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static int adopted(unsigned long inode) {
  for (int vid = 0; vid < RTE_MAX_VHOST_DEVICE; ++vid) {
    if (atomic_load(&connection_inodes[vid]) == inode) return 1;
  }
  return 0;
}

static int is_named(const struct sockaddr_un *addr, socklen_t len, const char *path) {
  const size_t path_len = strlen(path);
  return addr->sun_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path) + path_len &&
         memcmp(addr->sun_path, path, path_len) == 0 && addr->sun_path[path_len] == '\0';
}

/* A connected (not listening) Unix stream socket whose own or peer's address is `path`:
 * lib/vhost's accepted socket (server mode) or its connected one (client mode). */
static int is_connection_on(int fd, const char *path) {
  int type = 0, listening = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return 0;
  len = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return 0;
  struct sockaddr_un addr;
  len = sizeof(addr);
  if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0 && is_named(&addr, len, path)) return 1;
  len = sizeof(addr);
  return getpeername(fd, (struct sockaddr *)&addr, &len) == 0 && is_named(&addr, len, path);
}

static int find_connection(const char *path) {
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) return -1;
  const int own = dirfd(dir);
  int found = -1;
  for (struct dirent *entry; found < 0 && (entry = readdir(dir)) != NULL;) {
    char *end = NULL;
    const long fd = strtol(entry->d_name, &end, 10);
    if (*end != '\0' || end == entry->d_name || fd == own) continue;
    if (is_connection_on((int)fd, path) && !adopted(inode_of((int)fd))) found = (int)fd;
  }
  closedir(dir);
  return found;
}

int vhostd_control_bound_socket(int fd) {
  const struct timeval timeout = {.tv_sec = VHOSTD_CONTROL_IO_TIMEOUT_MS / 1000,
                                  .tv_usec = (VHOSTD_CONTROL_IO_TIMEOUT_MS % 1000) * 1000};
  return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) == 0 &&
                 setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) == 0
             ? 0
             : -1;
}

int vhostd_control_adopt(int vid, const char *path) {
  if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE) return -1;
  const int fd = find_connection(path);
  if (fd < 0 || vhostd_control_bound_socket(fd) != 0) return -1;
  const int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return -1;
  atomic_store(&connection_inodes[vid], inode_of(own));
  const int previous = atomic_exchange(&connection_fds[vid], own + 1) - 1;
  if (previous >= 0) close(previous);  /* (a vid lib/vhost reused without telling) */
  return 0;
}

/* 1 unless the peer closed its end (or shut down its sending side). */
static int peer_still_there(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLRDHUP};
  return poll(&p, 1, 0) >= 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

int vhostd_control_forget(int vid) {
  if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE) return 0;
  const int fd = atomic_exchange(&connection_fds[vid], 0) - 1;
  atomic_store(&connection_inodes[vid], 0);
  if (fd < 0) return 0;
  const int still_there = peer_still_there(fd);
  close(fd);
  return still_there;
}

int vhostd_control_known(int vid) {
  return vid >= 0 && vid < RTE_MAX_VHOST_DEVICE && atomic_load(&connection_fds[vid]) != 0;
}

int vhostd_control_backlogged(int vid) {
  if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE) return 0;
  const int fd = atomic_load(&connection_fds[vid]) - 1;
  int unread = 0;
  return fd >= 0 && ioctl(fd, SIOCOUTQ, &unread) == 0 && unread > VHOSTD_CONTROL_MAX_UNREAD_BYTES;
}
