// Package kstate tells what each worker of a pool is doing, and since
// when, from what the kernel shows, for workers that know nothing of
// gofpm: idle in accept, running, blocked elsewhere, waiting on a
// kept-alive connection. Probe is what a pool asks on its ticks; Clock
// dates the changes it reports. The kernel readers it builds on are
// fpm/internal/procfs and fpm/internal/sockdiag.
//
// Workers that know nothing of gofpm (php-cgi, libfcgi C programs, Perl FCGI)
// share the pool's listening socket on fd 0 and accept() from it themselves,
// so the master never sees a request. This package derives what the master
// needs from the kernel instead: for each worker, whether it is idle or busy,
// and for the pool, the accept queue. Nothing here accepts, reads from or
// changes the mode of the pool's socket.
//
// # How a worker is classified
//
// A worker is busy when it holds an open socket that is an accepted
// connection of this pool's listener, unless it is blocked in accept on the
// listener. One snapshot (Probe.Snapshot) does:
//
//  1. Per worker, /proc/PID/syscall (opened once, re-read with pread). A
//     single-threaded worker (nlink of /proc/PID/task, re-checked every 8th
//     snapshot) blocked in accept/accept4 on the pool's listener (the fd is
//     checked once per pid via /proc/PID/fd/N -> socket:[INODE]), or in
//     fcntl(F_SETLKW) on it (libfcgi's accept lock), is idle, and that is
//     all: one pread. This is the normal state of an idle php-cgi or libfcgi
//     worker, so a pool of idle workers costs one pread per worker and no
//     netlink traffic at all.
//  2. If any worker is left, one sock_diag dump (per snapshot, never per
//     worker) lists every accepted connection of the listener, whoever holds
//     it. Unix: a UNIX_DIAG dump of ESTABLISHED sockets with
//     UDIAG_SHOW_NAME|UDIAG_SHOW_PEER; an accepted Unix socket carries the
//     listener's bound name (the kernel copies the address into it at
//     connect time; the client's end has no name), so the connections are
//     the sockets of the listener's type named like it. TCP: an inet_diag
//     dump with a bytecode filter on local port == listen port, in the states
//     in which a process can still hold the socket (ESTABLISHED, CLOSE_WAIT,
//     FIN_WAIT1/2, LAST_ACK, CLOSING), the local address checked unless the
//     listener is bound to the wildcard address. No connection: every worker
//     is idle and nothing else is read.
//  3. The remaining workers' fds are matched against that set: first the fd
//     that held the worker's connection at the previous snapshot (one
//     readlink), else a listing of /proc/PID/fd (a readlink per fd). It stops
//     once every connection has its holder.
//
// # What is exact
//
//   - idle/busy, from ground truth: the worker's fd table and the kernel's
//     socket table. The readings are microseconds apart; a worker that
//     changes state between them is reported in its state at one of those
//     instants (a connection accepted after the dump or closed before the fd
//     listing is not seen: idle), never in an impossible one.
//   - the listen queue of Unix and TCP listeners (UNIX_DIAG_RQLEN:
//     udiag_rqueue = connections waiting, udiag_wqueue = backlog; inet_diag:
//     idiag_rqueue = sk_ack_backlog, idiag_wqueue = sk_max_ack_backlog).
//     php-fpm reports 0 for Unix sockets.
//   - Probe.Readable: a zero-timeout poll(2) of the master's own fd.
//
// # What is approximate
//
//   - "Since when": the kernel keeps no accept timestamp. Clock dates a
//     change at the first snapshot that saw it, so it happened in (previous
//     snapshot, that snapshot]: busy times are under-estimated by at most one
//     polling interval. A connection is recognised by its socket inode, so a
//     worker that finishes one connection and accepts another between two
//     snapshots still gets a new start; a whole request between two
//     snapshots is not seen at all.
//   - Keep-alive (FCGI_KEEP_CONN): a worker waiting for the next request on a
//     kept connection holds an accepted socket, so it is BUSY. That is
//     deliberate: it will not accept() until the web server closes the
//     connection, so counting it idle would make dynamic/ondemand see spare
//     capacity while the queue grows (php-fpm also counts it active, in its
//     "Reading headers" stage). It is not hidden, though: when the worker is
//     blocked in read/readv/pread64/recvfrom/recvmsg on the connection's fd,
//     Worker.Wait is WaitConn, and Clock stops the request clock there and
//     restarts it when the worker leaves that wait, so
//     request_terminate_timeout can count only the time spent away from the
//     client. The same wait is seen while a worker reads a request's
//     headers or a slow client's body, and while php-cgi, after answering a
//     request without FCGI_KEEP_CONN, drains the connection in recv() until
//     the web server closes it (nginx does so at once); none of these is
//     told apart from a keep-alive wait.
//   - Workers that serve several connections at once (threads, event loops)
//     are busy as soon as they hold one; Worker.Conns counts them as of the
//     last full fd listing. For multi-threaded processes step 1 never
//     concludes, because /proc/PID/syscall shows the main thread only. A
//     worker that starts threads after being seen single-threaded is noticed
//     within 8 snapshots.
//   - poll/select/epoll waits are not inspected (that would mean reading the
//     worker's memory): no connection held, idle; one held, busy with wait
//     WaitOther.
//   - A TCP connection reset by the peer leaves the kernel's hash tables
//     while the worker still holds its fd; such a worker reads as idle until
//     it closes the fd.
//
// # Cost
//
// Idle workers blocked in accept: one pread each, nothing else. Otherwise
// add one dump, whose cost grows with the host's socket count (the kernel
// walks all ESTABLISHED Unix sockets, or the whole TCP established hash;
// about 13 µs with none, 0.1 ms with 1000 and 3 ms with 10000 Unix sockets
// here), plus one readlink per busy worker, or one fd listing when its
// connection changed. See BenchmarkKernelBusyWorkers.
//
// # Permissions
//
// The master must be able to read /proc/PID/fd of its workers (root, or the
// same uid and a dumpable worker). A root master whose capabilities are cut
// down (systemd's CapabilityBoundingSet) needs CAP_SYS_PTRACE and
// CAP_DAC_READ_SEARCH for workers of other users: without either every
// such worker reads as idle (fpm/e2e TestSystemdUnitCapabilities). /proc/PID/syscall needs ptrace access;
// when it is refused or missing (no CONFIG_HAVE_ARCH_TRACEHOOK, some
// sandboxes) step 1 never concludes, which stays exact but dumps every time.
// The dumps need no privilege.
package kstate
