//go:build linux

package fpm

// Kernel-derived worker state.
//
// Workers that know nothing of gofpm (php-cgi, libfcgi C programs, Perl FCGI)
// share the pool's listening socket on fd 0 and accept() from it themselves,
// so the master never sees a request. This file derives what the master
// needs from the kernel instead: for each worker, whether it is idle or busy,
// and for the pool, the accept queue. Nothing here accepts, reads from or
// changes the mode of the pool's socket.
//
// # How a worker is classified
//
// A worker is busy when it holds an open socket that is an accepted
// connection of this pool's listener, unless it is blocked in accept on the
// listener. One snapshot (busyWorkers, snapshot) does:
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
//   - readable(): a zero-timeout poll(2) of the master's own fd.
//
// # What is approximate
//
//   - "Since when": the kernel keeps no accept timestamp. kworkerClock dates a
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
//     kworker.wait is kwaitConn, and kworkerClock stops the request clock
//     there and restarts it when the worker leaves that wait, so
//     request_terminate_timeout can count only the time spent away from the
//     client. The same wait is seen while a worker reads a request's
//     headers or a slow client's body, and while php-cgi, after answering a
//     request without FCGI_KEEP_CONN, drains the connection in recv() until
//     the web server closes it (nginx does so at once); none of these is
//     told apart from a keep-alive wait.
//   - Workers that serve several connections at once (threads, event loops)
//     are busy as soon as they hold one; kworker.conns counts them as of the
//     last full fd listing. For multi-threaded processes step 1 never
//     concludes, because /proc/PID/syscall shows the main thread only. A
//     worker that starts threads after being seen single-threaded is noticed
//     within 8 snapshots.
//   - poll/select/epoll waits are not inspected (that would mean reading the
//     worker's memory): no connection held, idle; one held, busy with wait
//     kwaitOther.
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
// same uid and a dumpable worker). /proc/PID/syscall needs ptrace access;
// when it is refused or missing (no CONFIG_HAVE_ARCH_TRACEHOOK, some
// sandboxes) step 1 never concludes, which stays exact but dumps every time.
// The dumps need no privilege.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sock_diag wire constants that x/sys does not define (linux/unix_diag.h,
// linux/inet_diag.h, linux/sock_diag.h).
const (
	kdUDIAG_SHOW_NAME  = 0x01
	kdUDIAG_SHOW_PEER  = 0x04
	kdUDIAG_SHOW_ICONS = 0x08
	kdUDIAG_SHOW_RQLEN = 0x10

	kdUNIX_DIAG_NAME  = 0
	kdUNIX_DIAG_PEER  = 2
	kdUNIX_DIAG_ICONS = 3
	kdUNIX_DIAG_RQLEN = 4

	kdINET_DIAG_REQ_BYTECODE = 1
	kdINET_DIAG_BC_S_GE      = 2
	kdINET_DIAG_BC_S_LE      = 3
	kdINET_DIAG_NOCOOKIE     = ^uint32(0)

	kdTCP_ESTABLISHED = 1
	kdTCP_FIN_WAIT1   = 4
	kdTCP_FIN_WAIT2   = 5
	kdTCP_CLOSE_WAIT  = 8
	kdTCP_LAST_ACK    = 9
	kdTCP_LISTEN      = 10
	kdTCP_CLOSING     = 11

	kdUnixReqLen     = 24 // struct unix_diag_req
	kdUnixMsgLen     = 16 // struct unix_diag_msg
	kdInetReqLen     = 56 // struct inet_diag_req_v2
	kdInetMsgLen     = 72 // struct inet_diag_msg
	kdNlaTypeMask    = 0x3fff
	kdNlmFDumpIntr   = 0x10
	kdRecvBuf        = 64 << 10 // ≥ any netlink skb the kernel builds for us
	kdMaxDumpBytes   = 64 << 20 // about 400k sockets: a bound, not a limit in practice
	kdRequestTimeout = 2 * time.Second
	kdMaxFDs         = 1 << 16 // fds listed per worker at most
	kdMaxCached      = 1 << 14 // cached /proc handles before the cache is reset
	kdThreadRecheck  = 8       // snapshots between checks that a worker is single-threaded
)

// kdTCPConnStates are the TCP states in which a process can hold an accepted socket.
const kdTCPConnStates = 1<<kdTCP_ESTABLISHED | 1<<kdTCP_FIN_WAIT1 | 1<<kdTCP_FIN_WAIT2 |
	1<<kdTCP_CLOSE_WAIT | 1<<kdTCP_LAST_ACK | 1<<kdTCP_CLOSING

// kwait says what the kernel reported a worker doing, from /proc/PID/syscall.
type kwait uint8

const (
	kwaitUnknown kwait = iota // /proc/PID/syscall unreadable, or multi-threaded with no connection
	kwaitAccept               // blocked in accept (or the accept lock) on the pool's listener
	kwaitConn                 // blocked reading an accepted connection: keep-alive wait or reading a request
	kwaitRunning              // on a CPU or runnable
	kwaitOther                // blocked in some other system call (sleep, database, poll, ...)
)

func (w kwait) String() string {
	switch w {
	case kwaitAccept:
		return "accept"
	case kwaitConn:
		return "conn-read"
	case kwaitRunning:
		return "running"
	case kwaitOther:
		return "other"
	}
	return "unknown"
}

// kworker is one worker's state in a snapshot.
type kworker struct {
	busy bool   // holds an accepted connection of the pool's listener
	conn uint64 // inode of one accepted connection it holds, 0 if none
	// conns counts the accepted connections held, as of the last full
	// listing of /proc/PID/fd (a worker still on the connection found then
	// is not listed again).
	conns int
	wait  kwait
}

// kernelProbe reads the state of one pool's workers and listen queue from the
// kernel. It is safe for concurrent use.
type kernelProbe struct {
	sock *os.File // the pool's listening socket; not owned, never closed here

	ino      uint64 // socket inode of the listener
	family   int    // AF_UNIX, AF_INET or AF_INET6
	stype    int    // SOCK_STREAM (or SOCK_SEQPACKET for AF_UNIX)
	name     []byte // AF_UNIX: the bound name as UNIX_DIAG_NAME reports it
	port     uint16 // TCP: local port
	addr     [16]byte
	wildcard bool // TCP: bound to 0.0.0.0 or ::

	mu        sync.Mutex
	closed    bool
	nl        int // NETLINK_SOCK_DIAG socket, -1 until opened or after an error
	seq       uint32
	rbuf      []byte
	dbuf      []byte
	lbuf      []byte
	sbuf      []byte
	procs     map[int]*kproc
	gen       uint64
	noSys     bool // /proc/PID/syscall does not exist on this kernel
	fdsBuf    []kfd
	undecided []kopen
}

// kproc holds per-worker handles that are cheap to re-read.
type kproc struct {
	sys    int    // /proc/PID/syscall, -1 when not open, -2 when refused
	lfd    int    // an fd number known to hold the listener, -1 unknown
	gen    uint64 // last snapshot that asked for this pid
	single uint64 // snapshot that last saw it single-threaded, 0 never
	multi  bool   // seen with several threads
	// The connection found by the last listing of /proc/PID/fd: the next
	// snapshot checks that fd alone before listing them all again.
	cfd    int
	cino   uint64
	nconns int
}

// kfd is a socket fd of a worker other than the listener.
type kfd struct {
	fd  int
	ino uint64
}

// kopen is a worker that step 1 could not classify.
type kopen struct {
	pid  int
	p    *kproc
	nr   int // system call it is blocked in, -1 if not known to be blocked
	arg0 uint64
}

var errKernelProbeClosed = errors.New("kernel probe closed")

// newKernelProbe records what identifies sock, the pool's listening socket,
// in the kernel's tables: its inode, family and, for Unix sockets, the bound
// name as the kernel stores it (which is the name at bind time: listenUnix
// binds a temporary name and renames the file afterwards), for TCP the local
// address and port. sock stays owned by the caller and in blocking mode.
func newKernelProbe(sock *os.File) (*kernelProbe, error) {
	k := &kernelProbe{
		sock:  sock,
		nl:    -1,
		rbuf:  make([]byte, kdRecvBuf),
		dbuf:  make([]byte, 8<<10),
		lbuf:  make([]byte, 128),
		sbuf:  make([]byte, 256),
		procs: make(map[int]*kproc),
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("kernel probe: %w", err)
	}
	var sa unix.Sockaddr
	var cerr error
	err = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if cerr = unix.Fstat(int(fd), &st); cerr != nil {
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			cerr = errors.New("not a socket")
			return
		}
		k.ino = uint64(st.Ino)
		if k.family, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); cerr != nil {
			return
		}
		if k.stype, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); cerr != nil {
			return
		}
		var acc int
		if acc, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); cerr != nil {
			return
		}
		if acc == 0 {
			cerr = errors.New("socket is not listening")
			return
		}
		if k.family == unix.AF_INET || k.family == unix.AF_INET6 {
			var proto int
			if proto, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL); cerr != nil {
				return
			}
			if proto != unix.IPPROTO_TCP {
				cerr = fmt.Errorf("protocol %d is not TCP", proto)
				return
			}
		}
		sa, cerr = unix.Getsockname(int(fd))
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("kernel probe: %s: %w", sock.Name(), err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		if k.stype != unix.SOCK_STREAM && k.stype != unix.SOCK_SEQPACKET {
			return nil, fmt.Errorf("kernel probe: %s: socket type %d", sock.Name(), k.stype)
		}
		// Take the name from the kernel's own report, so that it compares
		// byte for byte with the accepted sockets' names (x/sys spells an
		// abstract name with '@', the kernel with a NUL).
		var found bool
		k.mu.Lock()
		err = k.unixGet(kdUDIAG_SHOW_NAME, func(m kdUnixMsg) {
			if uint64(m.ino) == k.ino && m.state == kdTCP_LISTEN {
				k.name = append([]byte(nil), m.name...)
				found = true
			}
		})
		k.mu.Unlock()
		if err == nil && (!found || len(k.name) == 0) {
			err = errors.New("sock_diag does not report the listener or its name")
		}
		if err != nil {
			k.Close()
			return nil, fmt.Errorf("kernel probe: %s: %w", sock.Name(), err)
		}
	case *unix.SockaddrInet4:
		if k.stype != unix.SOCK_STREAM {
			return nil, fmt.Errorf("kernel probe: %s: socket type %d", sock.Name(), k.stype)
		}
		k.port = uint16(a.Port)
		copy(k.addr[:], a.Addr[:])
		k.wildcard = a.Addr == [4]byte{}
	case *unix.SockaddrInet6:
		if k.stype != unix.SOCK_STREAM {
			return nil, fmt.Errorf("kernel probe: %s: socket type %d", sock.Name(), k.stype)
		}
		k.port = uint16(a.Port)
		k.addr = a.Addr
		k.wildcard = a.Addr == [16]byte{}
	default:
		return nil, fmt.Errorf("kernel probe: %s: unsupported address family %d", sock.Name(), k.family)
	}
	if k.family != unix.AF_UNIX {
		// Check now that inet_diag answers and sees the listener.
		if _, _, err := k.listenQueue(); err != nil {
			k.Close()
			return nil, err
		}
	}
	return k, nil
}

// Close releases the netlink socket and the cached /proc handles. The pool's
// listening socket is not closed.
func (k *kernelProbe) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	k.nlReset()
	for pid, p := range k.procs {
		p.close()
		delete(k.procs, pid)
	}
	return nil
}

// workerBusy reports whether pid is serving a connection accepted from the
// pool's socket right now. A pid that no longer exists (reaped) is an error
// wrapping os.ErrNotExist; a zombie is idle.
func (k *kernelProbe) workerBusy(pid int) (bool, error) {
	w, err := k.worker(pid)
	return w.busy, err
}

// worker is workerBusy with the details.
func (k *kernelProbe) worker(pid int) (kworker, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return kworker{}, errKernelProbeClosed
	}
	st := make(map[int]kworker, 1)
	gone, err := k.snapshotLocked([]int{pid}, st, false)
	if err != nil {
		return kworker{}, err
	}
	if gone > 0 {
		return kworker{}, fmt.Errorf("worker %d: %w", pid, os.ErrNotExist)
	}
	return st[pid], nil
}

// busyWorkers reports for each pid whether it is busy, with at most one
// netlink dump for all of them. A pid that has exited is reported idle.
func (k *kernelProbe) busyWorkers(pids []int) (map[int]bool, error) {
	st, err := k.snapshot(pids)
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(st))
	for pid, w := range st {
		out[pid] = w.busy
	}
	return out, nil
}

// snapshot is busyWorkers with the details. Cached /proc handles of pids not
// listed are released, so pass every live worker of the pool.
func (k *kernelProbe) snapshot(pids []int) (map[int]kworker, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errKernelProbeClosed
	}
	st := make(map[int]kworker, len(pids))
	if _, err := k.snapshotLocked(pids, st, true); err != nil {
		return nil, err
	}
	return st, nil
}

func (k *kernelProbe) snapshotLocked(pids []int, st map[int]kworker, evict bool) (gone int, err error) {
	k.gen++
	if len(k.procs) > kdMaxCached {
		for pid, p := range k.procs {
			p.close()
			delete(k.procs, pid)
		}
	}
	// Step 1: /proc/PID/syscall. A worker blocked in accept on the listener
	// is idle; the others are left for steps 2 and 3.
	undecided := k.undecided[:0]
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		p := k.procs[pid]
		if p == nil {
			p = &kproc{sys: -1, lfd: -1, cfd: -1}
			k.procs[pid] = p
		}
		p.gen = k.gen
		nr, args, state := k.readSyscall(pid, p)
		u := kopen{pid: pid, p: p, nr: -1}
		w := kworker{}
		switch state {
		case ksysGone:
			gone++
			p.close()
			delete(k.procs, pid)
			st[pid] = w
			continue
		case ksysRunning:
			w.wait = kwaitRunning
		case ksysBlocked:
			w.wait = kwaitOther
			if k.blockedAccepting(pid, p, nr, args) {
				w.wait = kwaitAccept
				st[pid] = w
				continue
			}
			u.nr, u.arg0 = nr, args[0]
		}
		st[pid] = w
		undecided = append(undecided, u)
	}
	k.undecided = undecided[:0]
	if evict {
		for pid, p := range k.procs {
			if p.gen != k.gen {
				p.close()
				delete(k.procs, pid)
			}
		}
	}
	if len(undecided) == 0 {
		return gone, nil
	}
	// Step 2: one dump of the listener's accepted connections, held by
	// anyone. None: no worker can be busy.
	conns := make(map[uint64]bool)
	if k.family == unix.AF_UNIX {
		err = k.unixConns(conns)
	} else {
		err = k.tcpConns(conns)
	}
	if err != nil {
		return gone, err
	}
	// Step 3: find the holders among the undecided workers. Once every
	// connection has a holder the rest are idle.
	left := len(conns)
	for _, u := range undecided {
		if left == 0 {
			break
		}
		w := st[u.pid]
		p := u.p
		// Still on the connection it held at the last listing? One
		// readlink instead of listing every fd.
		if seen, ok := conns[p.cino]; ok && p.cfd >= 0 {
			if ino, ok := k.fdSocket(u.pid, p.cfd); ok && ino == p.cino {
				if !seen {
					conns[p.cino] = true
					left--
				}
				w.busy, w.conn, w.conns = true, p.cino, max(p.nconns, 1)
				if u.nr >= 0 && u.arg0 == uint64(p.cfd) && kIsReadNR(u.nr) {
					w.wait = kwaitConn
				}
				st[u.pid] = w
				continue
			}
		}
		var fds []kfd
		fds, err = k.socketFDs(u.pid, p, k.fdsBuf[:0])
		k.fdsBuf = fds[:0]
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				gone++
				p.close()
				delete(k.procs, u.pid)
				st[u.pid] = kworker{}
				continue
			}
			return gone, err
		}
		p.cfd, p.cino = -1, 0
		for _, c := range fds { // in fd order
			seen, ok := conns[c.ino]
			if !ok {
				continue
			}
			if !seen {
				conns[c.ino] = true
				left--
			}
			if !w.busy {
				w.busy, w.conn = true, c.ino
				p.cfd, p.cino = c.fd, c.ino
			}
			w.conns++
			if u.nr >= 0 && u.arg0 == uint64(c.fd) && kIsReadNR(u.nr) {
				w.wait = kwaitConn
			}
		}
		p.nconns = w.conns
		st[u.pid] = w
	}
	return gone, nil
}

func (p *kproc) close() {
	if p.sys >= 0 {
		unix.Close(p.sys)
	}
	p.sys = -1
}

// listenQueue returns the number of connections waiting to be accepted on the
// pool's socket and its backlog limit.
func (k *kernelProbe) listenQueue() (queued, backlog int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, 0, errKernelProbeClosed
	}
	found := false
	if k.family == unix.AF_UNIX {
		err = k.unixGet(kdUDIAG_SHOW_RQLEN, func(m kdUnixMsg) {
			if uint64(m.ino) == k.ino && m.state == kdTCP_LISTEN && m.hasRQ {
				queued, backlog, found = int(m.rqueue), int(m.wqueue), true
			}
		})
	} else {
		err = k.inetDump(1<<kdTCP_LISTEN, func(m kdInetMsg) {
			if uint64(m.inode) == k.ino {
				queued, backlog, found = int(m.rqueue), int(m.wqueue), true
			}
		})
	}
	if err == nil && !found {
		err = errors.New("sock_diag does not report the listener")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("listen queue of %s: %w", k.sock.Name(), err)
	}
	return queued, backlog, nil
}

// unixPending returns the inodes of the client sockets whose connections wait
// in a Unix listener's accept queue (UNIX_DIAG_ICONS). The kernel builds the
// reply in at most one page, so a long queue makes this fail; listenQueue
// has no such limit.
func (k *kernelProbe) unixPending() ([]uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errKernelProbeClosed
	}
	if k.family != unix.AF_UNIX {
		return nil, errors.New("not a Unix socket")
	}
	var icons []uint32
	found := false
	err := k.unixGet(kdUDIAG_SHOW_ICONS, func(m kdUnixMsg) {
		if uint64(m.ino) == k.ino {
			icons, found = m.icons, true
		}
	})
	if err == nil && !found {
		err = errors.New("sock_diag does not report the listener")
	}
	return icons, err
}

// readable reports whether a connection waits on the pool's socket, without
// accepting it: a zero-timeout poll of the master's fd, which changes neither
// the queue nor the socket's blocking mode.
func (k *kernelProbe) readable() bool {
	rc, err := k.sock.SyscallConn()
	if err != nil {
		return false
	}
	ready := false
	rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(pfd, 0)
			if err == unix.EINTR {
				continue
			}
			ready = err == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0
			return
		}
	})
	return ready
}

// ---- /proc ----

type ksysState uint8

const (
	ksysUnknown ksysState = iota
	ksysRunning
	ksysBlocked
	ksysGone // the process does not exist (any more)
)

// readSyscall reads /proc/PID/syscall: "running", or "NR ARG0 .. ARG5 SP PC"
// (NR decimal, the rest hex), or "-1 SP PC" when blocked outside a system call.
func (k *kernelProbe) readSyscall(pid int, p *kproc) (nr int, args [6]uint64, state ksysState) {
	if k.noSys || p.sys == -2 {
		return 0, args, ksysUnknown
	}
	if p.sys < 0 {
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/syscall", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENOENT || err == unix.ESRCH {
				// No such process, or no such file on this kernel.
				if _, serr := os.Stat("/proc/self/syscall"); serr != nil {
					k.noSys = true
					return 0, args, ksysUnknown
				}
				return 0, args, ksysGone
			}
			p.sys = -2
			return 0, args, ksysUnknown
		}
		p.sys = fd
	}
	n, err := unix.Pread(p.sys, k.sbuf, 0)
	if err != nil || n <= 0 {
		unix.Close(p.sys)
		p.sys = -1
		switch err {
		case unix.ESRCH, unix.ENOENT:
			return 0, args, ksysGone
		case unix.EACCES, unix.EPERM:
			p.sys = -2 // no ptrace access: list the fds every time
		}
		return 0, args, ksysUnknown
	}
	b := k.sbuf[:n]
	if bytes.HasPrefix(b, []byte("running")) {
		return 0, args, ksysRunning
	}
	f, b := kNextField(b)
	nr, err = strconv.Atoi(string(f))
	if err != nil {
		return 0, args, ksysUnknown
	}
	if nr < 0 {
		return nr, args, ksysBlocked
	}
	for i := range args {
		f, b = kNextField(b)
		v, err := kParseHex(f)
		if err != nil {
			return 0, args, ksysUnknown
		}
		args[i] = v
	}
	return nr, args, ksysBlocked
}

func kNextField(b []byte) (field, rest []byte) {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n') {
		b = b[1:]
	}
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '\n' {
		i++
	}
	return b[:i], b[i:]
}

func kParseHex(f []byte) (uint64, error) {
	if len(f) < 3 || f[0] != '0' || f[1] != 'x' || len(f) > 18 {
		return 0, errors.New("bad hex")
	}
	var v uint64
	for _, c := range f[2:] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, errors.New("bad hex")
		}
		v = v<<4 | uint64(c)
	}
	return v, nil
}

// blockedAccepting reports whether a single-threaded pid blocked in system
// call nr is waiting to accept on the pool's listener.
func (k *kernelProbe) blockedAccepting(pid int, p *kproc, nr int, args [6]uint64) bool {
	switch {
	case kIsAcceptNR(nr):
	case nr == unix.SYS_FCNTL && (args[1] == unix.F_SETLKW || args[1] == unix.F_OFD_SETLKW):
	default:
		return false
	}
	if args[0] >= 1<<31 {
		return false
	}
	fd := int(args[0])
	if fd != p.lfd {
		if ino, ok := k.fdSocket(pid, fd); !ok || ino != k.ino {
			return false
		}
		p.lfd = fd
	}
	// /proc/PID/syscall shows the main thread; another thread could be
	// serving a connection. nlink of /proc/PID/task is 2 + threads. A
	// multi-threaded process stays so; a single-threaded one is checked
	// again every kdThreadRecheck calls (this stat costs as much as the
	// pread above, and workers rarely start threads after their first
	// accept).
	if p.multi {
		return false
	}
	if p.single == 0 || k.gen-p.single >= kdThreadRecheck {
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/task", &st); err != nil {
			return false
		}
		if st.Nlink != 3 {
			p.multi = true
			return false
		}
		p.single = k.gen
	}
	return true
}

// fdSocket returns the socket inode open on pid's fd.
func (k *kernelProbe) fdSocket(pid, fd int) (uint64, bool) {
	n, err := unix.Readlink("/proc/"+strconv.Itoa(pid)+"/fd/"+strconv.Itoa(fd), k.lbuf)
	if err != nil {
		return 0, false
	}
	return kSocketInode(k.lbuf[:n])
}

// kSocketInode parses "socket:[INODE]".
func kSocketInode(b []byte) (uint64, bool) {
	const pre = "socket:["
	if len(b) < len(pre)+2 || string(b[:len(pre)]) != pre || b[len(b)-1] != ']' {
		return 0, false
	}
	var v uint64
	for _, c := range b[len(pre) : len(b)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// socketFDs appends pid's socket fds other than the listener to out. It
// returns an error wrapping os.ErrNotExist when the process is gone.
func (k *kernelProbe) socketFDs(pid int, p *kproc, out []kfd) ([]kfd, error) {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT || err == unix.ESRCH {
			return out, fmt.Errorf("worker %d: %w", pid, os.ErrNotExist)
		}
		return out, fmt.Errorf("reading the fds of worker %d: %w", pid, err)
	}
	defer unix.Close(dir)
	lfdSeen := false
	count := 0
	for count < kdMaxFDs {
		n, err := unix.Getdents(dir, k.dbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.ENOENT || err == unix.ESRCH {
				return out, fmt.Errorf("worker %d: %w", pid, os.ErrNotExist)
			}
			return out, fmt.Errorf("reading the fds of worker %d: %w", pid, err)
		}
		if n <= 0 {
			break
		}
		b := k.dbuf[:n]
		for len(b) >= 19 && count < kdMaxFDs {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return out, fmt.Errorf("reading the fds of worker %d: bad dirent", pid)
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			fd, ok := kAtoi(name)
			if !ok {
				continue // "." and ".."
			}
			count++
			ln, err := unix.Readlinkat(dir, string(name), k.lbuf)
			if err != nil {
				continue // closed meanwhile
			}
			ino, ok := kSocketInode(k.lbuf[:ln])
			if !ok {
				continue
			}
			if ino == k.ino {
				if fd == p.lfd {
					lfdSeen = true
				} else if p.lfd < 0 {
					p.lfd, lfdSeen = fd, true
				}
				continue
			}
			out = append(out, kfd{fd: fd, ino: ino})
		}
		// procfs fills the buffer until it is full or the table ends: a
		// buffer with room for another entry means the end was reached.
		if n < len(k.dbuf)-64 {
			break
		}
	}
	if !lfdSeen {
		p.lfd = -1
	}
	return out, nil
}

func kAtoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// kIsAcceptNR reports whether nr is accept or accept4. x/sys has no
// SYS_ACCEPT on every architecture (386 and s390x use socketcall), so the
// numbers of accept(2) are written out for the architectures gofpm runs on.
func kIsAcceptNR(nr int) bool {
	if nr == unix.SYS_ACCEPT4 {
		return true
	}
	switch runtime.GOARCH {
	case "amd64":
		return nr == 43
	case "arm64", "riscv64", "loong64":
		return nr == 202
	}
	return false
}

// kIsReadNR reports whether nr reads from its first argument's fd.
func kIsReadNR(nr int) bool {
	switch nr {
	case unix.SYS_READ, unix.SYS_READV, unix.SYS_PREAD64, unix.SYS_RECVFROM, unix.SYS_RECVMSG:
		return true
	}
	return false
}

// ---- sock_diag ----

// kdUnixMsg is a parsed unix_diag_msg with its attributes.
type kdUnixMsg struct {
	typ, state     uint8
	ino            uint32
	name           []byte // UNIX_DIAG_NAME, aliasing the receive buffer
	peer           uint32 // UNIX_DIAG_PEER
	hasRQ          bool
	rqueue, wqueue uint32   // UNIX_DIAG_RQLEN
	icons          []uint32 // UNIX_DIAG_ICONS (copied)
}

// kdInetMsg is the part of inet_diag_msg used here.
type kdInetMsg struct {
	family, state  uint8
	sport          uint16
	src            [16]byte
	rqueue, wqueue uint32
	inode          uint32
}

func kdAlign(n int) int { return (n + 3) &^ 3 }

func kdParseUnix(b []byte, wantAttrs bool) (kdUnixMsg, bool) {
	if len(b) < kdUnixMsgLen {
		return kdUnixMsg{}, false
	}
	ne := binary.NativeEndian
	m := kdUnixMsg{typ: b[1], state: b[2], ino: ne.Uint32(b[4:8])}
	if !wantAttrs {
		return m, true
	}
	kdAttrs(b[kdUnixMsgLen:], func(t uint16, v []byte) {
		switch t {
		case kdUNIX_DIAG_NAME:
			m.name = v
		case kdUNIX_DIAG_PEER:
			if len(v) >= 4 {
				m.peer = ne.Uint32(v)
			}
		case kdUNIX_DIAG_RQLEN:
			if len(v) >= 8 {
				m.hasRQ, m.rqueue, m.wqueue = true, ne.Uint32(v[0:4]), ne.Uint32(v[4:8])
			}
		case kdUNIX_DIAG_ICONS:
			m.icons = make([]uint32, len(v)/4)
			for i := range m.icons {
				m.icons[i] = ne.Uint32(v[4*i:])
			}
		}
	})
	return m, true
}

func kdParseInet(b []byte) (kdInetMsg, bool) {
	if len(b) < kdInetMsgLen {
		return kdInetMsg{}, false
	}
	ne := binary.NativeEndian
	m := kdInetMsg{family: b[0], state: b[1], sport: binary.BigEndian.Uint16(b[4:6])}
	copy(m.src[:], b[8:24])
	m.rqueue = ne.Uint32(b[56:60])
	m.wqueue = ne.Uint32(b[60:64])
	m.inode = ne.Uint32(b[68:72])
	return m, true
}

// kdAttrs walks netlink attributes.
func kdAttrs(b []byte, fn func(t uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & kdNlaTypeMask
		if l < 4 || l > len(b) {
			return
		}
		fn(t, b[4:l])
		if a := kdAlign(l); a < len(b) {
			b = b[a:]
		} else {
			return
		}
	}
}

// unixReq builds a unix_diag_req. ino != 0 asks for that socket only.
func kdUnixReq(states, ino, show uint32) []byte {
	b := make([]byte, kdUnixReqLen)
	ne := binary.NativeEndian
	b[0] = unix.AF_UNIX
	ne.PutUint32(b[4:], states)
	ne.PutUint32(b[8:], ino)
	ne.PutUint32(b[12:], show)
	ne.PutUint32(b[16:], kdINET_DIAG_NOCOOKIE)
	ne.PutUint32(b[20:], kdINET_DIAG_NOCOOKIE)
	return b
}

// unixGet asks for the listener alone (unix_diag's lookup by inode).
func (k *kernelProbe) unixGet(show uint32, fn func(kdUnixMsg)) error {
	req := kdUnixReq(^uint32(0), uint32(k.ino), show)
	return k.nlRequest(req, false, func(b []byte) error {
		if m, ok := kdParseUnix(b, true); ok {
			fn(m)
		}
		return nil
	})
}

// unixConns dumps the ESTABLISHED Unix sockets and adds to conns (as false)
// the inodes of the listener's accepted connections: same type, named with
// the listener's bound name, connected (a peer, unless the client has gone).
func (k *kernelProbe) unixConns(conns map[uint64]bool) error {
	req := kdUnixReq(1<<kdTCP_ESTABLISHED, 0, kdUDIAG_SHOW_NAME|kdUDIAG_SHOW_PEER)
	return k.nlRequest(req, true, func(b []byte) error {
		m, ok := kdParseUnix(b, true)
		if ok && int(m.typ) == k.stype && m.state != kdTCP_LISTEN && bytes.Equal(m.name, k.name) {
			conns[uint64(m.ino)] = false
		}
		return nil
	})
}

// inetDump dumps the TCP sockets of the listener's family in states whose
// local port is the listener's (an inet_diag bytecode filter: sport >= port
// && sport <= port, which kernels since 2.6 understand).
func (k *kernelProbe) inetDump(states uint32, fn func(kdInetMsg)) error {
	ne := binary.NativeEndian
	const bcLen = 16
	b := make([]byte, kdInetReqLen+4+bcLen)
	b[0] = byte(k.family)
	b[1] = unix.IPPROTO_TCP
	ne.PutUint32(b[4:], states)
	ne.PutUint32(b[48:], kdINET_DIAG_NOCOOKIE)
	ne.PutUint32(b[52:], kdINET_DIAG_NOCOOKIE)
	a := b[kdInetReqLen:]
	ne.PutUint16(a[0:], 4+bcLen)
	ne.PutUint16(a[2:], kdINET_DIAG_REQ_BYTECODE)
	bc := a[4:]
	// op {code, yes, no}; a port op is followed by {0, 0, port}. Jumping to
	// exactly the end accepts; to the end + 4 rejects.
	bc[0], bc[1] = kdINET_DIAG_BC_S_GE, 8
	ne.PutUint16(bc[2:], bcLen+4)
	ne.PutUint16(bc[6:], k.port)
	bc[8], bc[9] = kdINET_DIAG_BC_S_LE, 8
	ne.PutUint16(bc[10:], bcLen-8+4)
	ne.PutUint16(bc[14:], k.port)
	return k.nlRequest(b, true, func(b []byte) error {
		if m, ok := kdParseInet(b); ok && m.sport == k.port {
			fn(m)
		}
		return nil
	})
}

// tcpConns adds to conns (as false) the inodes of the connections accepted
// on the listener's port (and address, unless it is the wildcard) that a
// process still holds.
func (k *kernelProbe) tcpConns(conns map[uint64]bool) error {
	return k.inetDump(kdTCPConnStates, func(m kdInetMsg) {
		if m.inode != 0 && (k.wildcard || k.sameAddr(m.src)) {
			conns[uint64(m.inode)] = false
		}
	})
}

func (k *kernelProbe) sameAddr(src [16]byte) bool {
	if k.family == unix.AF_INET {
		return [4]byte(src[:4]) == [4]byte(k.addr[:4])
	}
	return src == k.addr
}

// nlOpen opens the NETLINK_SOCK_DIAG socket with bounded blocking.
func (k *kernelProbe) nlOpen() error {
	if k.nl >= 0 {
		return nil
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("opening a sock_diag socket: %w", err)
	}
	tv := unix.NsecToTimeval(int64(kdRequestTimeout))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("binding a sock_diag socket: %w", err)
	}
	k.nl = fd
	return nil
}

func (k *kernelProbe) nlReset() {
	if k.nl >= 0 {
		unix.Close(k.nl)
		k.nl = -1
	}
}

// nlRequest sends one SOCK_DIAG_BY_FAMILY request and passes the payload of
// every reply message to fn. A dump ends with NLMSG_DONE; a single request
// is sent with NLM_F_ACK and ends with the acknowledgement. Messages of other
// sequence numbers (left from an aborted request) are skipped. Any error
// closes the socket, so that nothing stale is read by the next request.
func (k *kernelProbe) nlRequest(body []byte, dump bool, fn func([]byte) error) (err error) {
	if err := k.nlOpen(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			k.nlReset()
		}
	}()
	k.seq++
	seq := k.seq
	flags := uint16(unix.NLM_F_REQUEST)
	if dump {
		flags |= unix.NLM_F_DUMP
	} else {
		flags |= unix.NLM_F_ACK
	}
	ne := binary.NativeEndian
	msg := make([]byte, unix.NLMSG_HDRLEN+len(body))
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(msg[6:], flags)
	ne.PutUint32(msg[8:], seq)
	copy(msg[unix.NLMSG_HDRLEN:], body)
	for {
		err = unix.Sendto(k.nl, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	deadline := time.Now().Add(kdRequestTimeout)
	total := 0
	for {
		if time.Now().After(deadline) {
			return errors.New("sock_diag: no complete answer in time")
		}
		n, _, rflags, _, err := unix.Recvmsg(k.nl, k.rbuf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.EAGAIN {
				return errors.New("sock_diag: no answer in time")
			}
			return fmt.Errorf("sock_diag: %w", err)
		}
		if rflags&unix.MSG_TRUNC != 0 {
			return errors.New("sock_diag: reply truncated")
		}
		if n == 0 {
			return errors.New("sock_diag: empty reply")
		}
		if total += n; total > kdMaxDumpBytes {
			return errors.New("sock_diag: reply too large")
		}
		b := k.rbuf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(ne.Uint32(b[0:4]))
			typ := ne.Uint16(b[4:6])
			mseq := ne.Uint32(b[8:12])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return errors.New("sock_diag: malformed reply")
			}
			payload := b[unix.NLMSG_HDRLEN:l]
			if a := kdAlign(l); a < len(b) {
				b = b[a:]
			} else {
				b = nil
			}
			if mseq != seq {
				continue
			}
			switch typ {
			case unix.NLMSG_NOOP:
			case unix.NLMSG_DONE:
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload)); e < 0 {
						return fmt.Errorf("sock_diag dump: %w", unix.Errno(-e))
					}
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(payload) < 4 {
					return errors.New("sock_diag: malformed error")
				}
				if e := int32(ne.Uint32(payload)); e != 0 {
					if e < 0 {
						e = -e
					}
					return fmt.Errorf("sock_diag: %w", unix.Errno(e))
				}
				return nil // the acknowledgement
			case unix.NLMSG_OVERRUN:
				return errors.New("sock_diag: overrun")
			case unix.SOCK_DIAG_BY_FAMILY:
				if err := fn(payload); err != nil {
					return err
				}
			}
		}
	}
}

// ---- "since when" ----

// kworkerTime is what kworkerClock knows of one worker.
type kworkerTime struct {
	busy bool
	conn uint64
	wait kwait
	// since is the first observation of the current state (for busy: of the
	// current connection); the change happened in (after, since]. after is
	// zero for the first observation of a worker.
	since, after time.Time
	// request estimates the start of the current request (busy only): since,
	// or the first observation after the worker was last seen in kwaitConn
	// on this connection (a keep-alive wait for the next request). It is
	// zero while the worker is in kwaitConn.
	request time.Time
}

// kworkerClock turns successive snapshots into since-times. Call observe
// after every snapshot; it is not safe for concurrent use.
//
// For request_terminate_timeout, a worker's request has run for now-request
// (request non-zero), an under-estimate by at most one polling interval.
// For idle timeouts, a worker has been idle for now-since.
type kworkerClock struct {
	prev time.Time
	w    map[int]*kworkerTime
}

func (c *kworkerClock) observe(now time.Time, snap map[int]kworker) {
	if c.w == nil {
		c.w = make(map[int]*kworkerTime)
	}
	for pid, s := range snap {
		t := c.w[pid]
		if t == nil || t.busy != s.busy || t.conn != s.conn {
			after := c.prev
			if t == nil {
				after = time.Time{}
			}
			t = &kworkerTime{busy: s.busy, conn: s.conn, since: now, after: after}
			if s.busy && s.wait != kwaitConn {
				t.request = now
			}
			c.w[pid] = t
		} else if s.busy {
			switch {
			case s.wait == kwaitConn:
				t.request = time.Time{}
			case t.request.IsZero():
				t.request = now
			}
		}
		t.wait = s.wait
	}
	for pid := range c.w {
		if _, ok := snap[pid]; !ok {
			delete(c.w, pid)
		}
	}
	c.prev = now
}

func (c *kworkerClock) get(pid int) (kworkerTime, bool) {
	t, ok := c.w[pid]
	if !ok {
		return kworkerTime{}, false
	}
	return *t, true
}
