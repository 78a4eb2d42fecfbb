package kstate

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/fpm/internal/sockdiag"
	"golang.org/x/sys/unix"
)

const (
	maxCached     = 1 << 14 // cached /proc handles before the cache is reset
	threadRecheck = 8       // snapshots between checks that a worker is single-threaded
)

// Probe reads the state of one pool's workers and listen queue from the
// kernel. It is safe for concurrent use.
type Probe struct {
	sock *os.File          // the pool's listening socket; not owned, never closed here
	l    sockdiag.Listener // what identifies it in the kernel's tables

	mu        sync.Mutex
	closed    bool
	diag      sockdiag.Conn
	fds       procfs.FDReader
	sbuf      []byte
	procs     map[int]*proc
	gen       uint64
	noSys     bool // /proc/PID/syscall does not exist on this kernel
	fdsBuf    []sockFD
	undecided []open
}

// proc holds per-worker handles that are cheap to re-read.
type proc struct {
	sys    procfs.SyscallFile
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

// sockFD is a socket fd of a worker other than the listener.
type sockFD struct {
	fd  int
	ino uint64
}

// open is a worker that step 1 could not classify.
type open struct {
	pid  int
	p    *proc
	nr   int // system call it is blocked in, -1 if not known to be blocked
	arg0 uint64
}

// New records what identifies sock, the pool's listening socket, in the
// kernel's tables (sockdiag.Conn.Identify): its inode, family and, for Unix
// sockets, the bound name as the kernel stores it (which is the name at
// bind time: the pool's socket is bound under a temporary name and renamed
// afterwards), for TCP the local address and port. sock stays owned by the
// caller and in blocking mode.
func New(sock *os.File) (*Probe, error) {
	k := &Probe{
		sock:  sock,
		sbuf:  make([]byte, 256),
		procs: make(map[int]*proc),
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("kernel probe: %w", err)
	}
	if k.l, err = k.diag.Identify(rc); err != nil {
		k.Close()
		return nil, fmt.Errorf("kernel probe: %s: %w", sock.Name(), err)
	}
	if k.l.Family != unix.AF_UNIX {
		// Check now that inet_diag answers and sees the listener.
		if _, _, err := k.ListenQueue(); err != nil {
			k.Close()
			return nil, err
		}
	}
	return k, nil
}

// Close releases the netlink socket and the cached /proc handles. The pool's
// listening socket is not closed.
func (k *Probe) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	k.diag.Close()
	for pid, p := range k.procs {
		p.sys.Close()
		delete(k.procs, pid)
	}
	return nil
}

// workerBusy reports whether pid is serving a connection accepted from the
// pool's socket right now. A pid that no longer exists (reaped) is an error
// wrapping os.ErrNotExist; a zombie is idle.
func (k *Probe) workerBusy(pid int) (bool, error) {
	w, err := k.worker(pid)
	return w.Busy, err
}

// worker is workerBusy with the details.
func (k *Probe) worker(pid int) (Worker, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return Worker{}, ErrClosed
	}
	st := make(map[int]Worker, 1)
	gone, err := k.snapshotLocked([]int{pid}, st, false)
	if err != nil {
		return Worker{}, err
	}
	if gone > 0 {
		return Worker{}, fmt.Errorf("worker %d: %w", pid, os.ErrNotExist)
	}
	return st[pid], nil
}

// busyWorkers reports for each pid whether it is busy, with at most one
// netlink dump for all of them. A pid that has exited is reported idle.
func (k *Probe) busyWorkers(pids []int) (map[int]bool, error) {
	st, err := k.Snapshot(pids)
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(st))
	for pid, w := range st {
		out[pid] = w.Busy
	}
	return out, nil
}

// Snapshot reports the state of each pid, with at most one netlink dump
// for all of them. A pid that has exited is reported idle. Cached /proc
// handles of pids not listed are released, so pass every live worker of
// the pool.
func (k *Probe) Snapshot(pids []int) (map[int]Worker, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	st := make(map[int]Worker, len(pids))
	if _, err := k.snapshotLocked(pids, st, true); err != nil {
		return nil, err
	}
	return st, nil
}

func (k *Probe) snapshotLocked(pids []int, st map[int]Worker, evict bool) (gone int, err error) {
	k.gen++
	if len(k.procs) > maxCached {
		for pid, p := range k.procs {
			p.sys.Close()
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
			p = &proc{lfd: -1, cfd: -1}
			k.procs[pid] = p
		}
		p.gen = k.gen
		sc := k.readSyscall(pid, p)
		u := open{pid: pid, p: p, nr: -1}
		w := Worker{}
		switch sc.State {
		case procfs.SyscallGone:
			gone++
			p.sys.Close()
			delete(k.procs, pid)
			st[pid] = w
			continue
		case procfs.SyscallRunning:
			w.Wait = WaitRunning
		case procfs.SyscallBlocked:
			w.Wait = WaitOther
			if k.blockedAccepting(pid, p, sc.NR, sc.Args) {
				w.Wait = WaitAccept
				st[pid] = w
				continue
			}
			u.nr, u.arg0 = sc.NR, sc.Args[0]
		}
		st[pid] = w
		undecided = append(undecided, u)
	}
	k.undecided = undecided[:0]
	if evict {
		for pid, p := range k.procs {
			if p.gen != k.gen {
				p.sys.Close()
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
	if err = k.diag.Accepted(&k.l, conns); err != nil {
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
			if ino, ok := k.fds.Socket(u.pid, p.cfd); ok && ino == p.cino {
				if !seen {
					conns[p.cino] = true
					left--
				}
				w.Busy, w.Conn, w.Conns = true, p.cino, max(p.nconns, 1)
				if u.nr >= 0 && u.arg0 == uint64(p.cfd) && isReadNR(u.nr) {
					w.Wait = WaitConn
				}
				st[u.pid] = w
				continue
			}
		}
		var fds []sockFD
		fds, err = k.socketFDs(u.pid, p, k.fdsBuf[:0])
		k.fdsBuf = fds[:0]
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				gone++
				p.sys.Close()
				delete(k.procs, u.pid)
				st[u.pid] = Worker{}
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
			if !w.Busy {
				w.Busy, w.Conn = true, c.ino
				p.cfd, p.cino = c.fd, c.ino
			}
			w.Conns++
			if u.nr >= 0 && u.arg0 == uint64(c.fd) && isReadNR(u.nr) {
				w.Wait = WaitConn
			}
		}
		p.nconns = w.Conns
		st[u.pid] = w
	}
	return gone, nil
}

// ListenQueue returns the number of connections waiting to be accepted on
// the pool's socket and its backlog limit.
func (k *Probe) ListenQueue() (queued, backlog int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0, 0, ErrClosed
	}
	if queued, backlog, err = k.diag.Queue(&k.l); err != nil {
		return 0, 0, fmt.Errorf("listen queue of %s: %w", k.sock.Name(), err)
	}
	return queued, backlog, nil
}

// Readable reports whether a connection waits on the pool's socket, without
// accepting it: a zero-timeout poll of the master's fd, which changes neither
// the queue nor the socket's blocking mode.
func (k *Probe) Readable() bool {
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

// readSyscall reads pid's /proc/PID/syscall, unless this kernel has none.
func (k *Probe) readSyscall(pid int, p *proc) procfs.Syscall {
	if k.noSys {
		return procfs.Syscall{}
	}
	sc := p.sys.Read(pid, k.sbuf)
	if sc.State == procfs.SyscallUnsupported {
		k.noSys = true
		return procfs.Syscall{}
	}
	return sc
}

// blockedAccepting reports whether a single-threaded pid blocked in system
// call nr is waiting to accept on the pool's listener.
func (k *Probe) blockedAccepting(pid int, p *proc, nr int, args [6]uint64) bool {
	switch {
	case isAcceptNR(nr):
	case nr == unix.SYS_FCNTL && (args[1] == unix.F_SETLKW || args[1] == unix.F_OFD_SETLKW):
	default:
		return false
	}
	if args[0] >= 1<<31 {
		return false
	}
	fd := int(args[0])
	if fd != p.lfd {
		if ino, ok := k.fds.Socket(pid, fd); !ok || ino != k.l.Ino {
			return false
		}
		p.lfd = fd
	}
	// /proc/PID/syscall shows the main thread; another thread could be
	// serving a connection. A multi-threaded process stays so; a
	// single-threaded one is checked again every threadRecheck calls (this
	// stat costs as much as the pread above, and workers rarely start
	// threads after their first accept).
	if p.multi {
		return false
	}
	if p.single == 0 || k.gen-p.single >= threadRecheck {
		n, err := procfs.Threads(pid)
		if err != nil {
			return false
		}
		if n != 1 {
			p.multi = true
			return false
		}
		p.single = k.gen
	}
	return true
}

// socketFDs appends pid's socket fds other than the listener to out, and
// keeps p.lfd on an fd that holds the listener. It returns an error
// wrapping os.ErrNotExist when the process is gone.
func (k *Probe) socketFDs(pid int, p *proc, out []sockFD) ([]sockFD, error) {
	lfdSeen := false
	err := k.fds.Sockets(pid, func(fd int, ino uint64) {
		if ino == k.l.Ino {
			if fd == p.lfd {
				lfdSeen = true
			} else if p.lfd < 0 {
				p.lfd, lfdSeen = fd, true
			}
			return
		}
		out = append(out, sockFD{fd: fd, ino: ino})
	})
	if errors.Is(err, os.ErrNotExist) {
		return out, fmt.Errorf("worker %d: %w", pid, os.ErrNotExist)
	}
	if err != nil {
		return out, fmt.Errorf("reading the fds of worker %d: %w", pid, err)
	}
	if !lfdSeen {
		p.lfd = -1
	}
	return out, nil
}

// isAcceptNR reports whether nr is accept or accept4. x/sys has no
// SYS_ACCEPT on every architecture (386 and s390x use socketcall), so the
// numbers of accept(2) are written out for the architectures gofpm runs on.
func isAcceptNR(nr int) bool {
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

// isReadNR reports whether nr reads from its first argument's fd.
func isReadNR(nr int) bool {
	switch nr {
	case unix.SYS_READ, unix.SYS_READV, unix.SYS_PREAD64, unix.SYS_RECVFROM, unix.SYS_RECVMSG:
		return true
	}
	return false
}
