// Package sockdiag asks Linux's socket tables about listening sockets and
// their connections through NETLINK_SOCK_DIAG (UNIX_DIAG and INET_DIAG):
// a listener's accept queue, the connections accepted from it, the
// listener bound to a Unix socket file or in the way of a TCP address.
// It never accepts, reads from or changes the sockets it is asked about.
//
// Conn is the netlink transport; Listener identifies a listening socket in
// the kernel's tables. The package is empty outside Linux.
package sockdiag
