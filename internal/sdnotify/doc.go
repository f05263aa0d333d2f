// Package sdnotify tells systemd about the daemon's state (sd_notify(3))
// without a library: one datagram to the socket named by $NOTIFY_SOCKET.
// Outside systemd, or under a Type= other than notify, every call is a no-op.
package sdnotify
