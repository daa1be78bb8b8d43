/* Bounds on one frontend's control channel. lib/vhost serves every vhost-user socket
 * from one event thread that blocks in read() and sendmsg() on a connection's fd: a
 * frontend that announces a payload it never sends, or floods requests and never reads
 * the replies, would stall the control path of every other port (and the API call that
 * deletes its port). lib/vhost hands out no fd, so vhostd finds each connection's fd
 * itself when lib/vhost reports the connection, and gives it I/O timeouts; a peer whose
 * unread replies pile up is dropped before the next message is handled. */
#ifndef VHOSTD_PLUGINS_VHOST_USER_CONTROL_CHANNEL_H_
#define VHOSTD_PLUGINS_VHOST_USER_CONTROL_CHANNEL_H_

#ifdef __cplusplus
extern "C" {
#endif

/* How long one read or send on a control channel may block. A frontend writes each
 * message in one go (QEMU, DPDK's virtio-user), and the event thread reads only once
 * epoll says there is data, so a well-behaved peer never comes near it. */
#define VHOSTD_CONTROL_IO_TIMEOUT_MS 1000
/* Reply bytes the frontend has not read yet beyond which it counts as not reading. A
 * reply is at most a few hundred bytes, and a frontend waits for each one. */
#define VHOSTD_CONTROL_MAX_UNREAD_BYTES (16 * 1024)

/* Finds the connected socket of `vid` (a connection on `path`, server or client end,
 * not yet adopted by another vid), sets its I/O timeouts and holds a duplicate of its fd
 * until vhostd_control_forget. 0, or -1 if no such socket is open. */
int vhostd_control_adopt(int vid, const char *path);

/* Forgets `vid`'s socket and closes vhostd's duplicate (lib/vhost closed or is about to
 * close its own fd). Returns 1 if the frontend still held its end open, i.e. the
 * connection ended on vhostd's side (a malformed, refused or stalled message), 0 if the
 * frontend hung up or `vid` was unknown. */
int vhostd_control_forget(int vid);

/* 1 if `vid` has an adopted socket, else 0. */
int vhostd_control_known(int vid);

/* 1 if the frontend of `vid` left more than VHOSTD_CONTROL_MAX_UNREAD_BYTES of replies
 * unread, else 0. */
int vhostd_control_backlogged(int vid);

/* Gives a socket the frontend handed over (the backend request channel) the same
 * timeouts; 0, or -1 if it is no socket. */
int vhostd_control_bound_socket(int fd);

#ifdef __cplusplus
}
#endif

#endif /* VHOSTD_PLUGINS_VHOST_USER_CONTROL_CHANNEL_H_ */
