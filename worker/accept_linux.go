//go:build linux

package worker

// This file accepts on the inherited socket without a thundering herd.
//
// Every worker of a pool waits on the same listening socket. Go's network
// poller would register it in each worker's epoll set, and the kernel would
// then wake every idle worker for every new connection, all but one of
// which find nothing to accept: with 8 workers that cost more CPU than the
// requests themselves. php-fpm and libfcgi workers avoid it with a blocking
// accept(), which the kernel wakes one at a time, but a blocking accept
// cannot be interrupted for a graceful stop. So a worker waits in an epoll
// set of its own, where the socket is registered with EPOLLEXCLUSIVE (the
// kernel wakes one waiter, or few, per connection) next to an eventfd that
// Close writes to. The worker only ever accepts when it decided to, so a
// graceful stop never drops a connection that the kernel handed to it.
//
// How the worker waits matters as much: a Go goroutine that blocks in a
// system call gives up its P, and the runtime wakes another thread to take
// it, which costs a few context switches per request when a busy worker
// waits a little between requests. So a worker that was busy a moment ago
// waits with a raw system call that keeps its P, in slices of at most
// spinSlice (after each slice, and after any signal, it yields so the
// signal handler goroutine and timers run); only after idleAfter of
// waiting does it block the normal way, releasing the P, so an idle worker
// costs nothing.

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	spinSlice = 10 * time.Millisecond
	idleAfter = 50 * time.Millisecond
)

type exclusiveListener struct {
	fd   int // the shared listening socket
	epfd int
	efd  int // eventfd: readable once Close was called
	addr net.Addr

	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex // serialises Accept (fcgi.Serve calls it from one goroutine)
	events    [2]unix.EpollEvent
}

// newExclusiveListener takes over fd (a listening socket). The socket is
// put in non-blocking mode; the flag belongs to the socket shared by the
// whole pool, which is why Go workers and blocking-accept workers must not
// share a pool.
func newExclusiveListener(fd int) (*exclusiveListener, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("worker: setting fd %d non-blocking: %w", fd, err)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("worker: epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("worker: eventfd: %w", err)
	}
	l := &exclusiveListener{fd: fd, epfd: epfd, efd: efd, closed: make(chan struct{})}
	add := func(fd int, ev uint32) error {
		return unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: ev, Fd: int32(fd)})
	}
	if err := add(fd, unix.EPOLLIN|unix.EPOLLEXCLUSIVE); err != nil {
		l.release()
		return nil, fmt.Errorf("worker: epoll_ctl on fd %d: %w", fd, err)
	}
	if err := add(efd, unix.EPOLLIN); err != nil {
		l.release()
		return nil, fmt.Errorf("worker: epoll_ctl on eventfd: %w", err)
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		l.addr = sockaddrToAddr(sa)
	}
	return l, nil
}

func (l *exclusiveListener) release() {
	unix.Close(l.efd)
	unix.Close(l.epfd)
}

// Accept returns the next connection, waiting in the listener's own epoll
// set while there is none.
func (l *exclusiveListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		r, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(l.fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		var err error
		if errno != 0 {
			err = errno
		}
		switch {
		case err == nil:
			c, err := newRawConn(int(r), l.addr)
			if err != nil {
				return nil, fmt.Errorf("worker: wrapping accepted fd: %w", err)
			}
			return c, nil
		case errors.Is(err, unix.EAGAIN):
			if err := l.wait(); err != nil {
				return nil, err
			}
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
		default:
			return nil, fmt.Errorf("worker: accept: %w", err)
		}
	}
}

// wait blocks until the socket or the eventfd is readable (or a signal
// arrived): first holding the P in slices, then, once idle, releasing it.
func (l *exclusiveListener) wait() error {
	for waited := time.Duration(0); waited < idleAfter; waited += spinSlice {
		n, errno := rawEpollWait(l.epfd, l.events[:], int(spinSlice/time.Millisecond))
		runtime.Gosched()
		if errno != 0 && errno != unix.EINTR {
			return fmt.Errorf("worker: epoll_wait: %w", errno)
		}
		if n > 0 || errno == unix.EINTR {
			return nil
		}
	}
	if _, err := unix.EpollWait(l.epfd, l.events[:], -1); err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("worker: epoll_wait: %w", err)
	}
	return nil
}

// rawEpollWait is epoll_pwait without telling the Go scheduler: the
// calling goroutine keeps its P while the thread sleeps in the kernel.
func rawEpollWait(epfd int, events []unix.EpollEvent, msec int) (int, unix.Errno) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	return int(r), errno
}

// Close stops Accept; the shared socket itself stays open for the pool.
func (l *exclusiveListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		var one = [8]byte{1}
		unix.Write(l.efd, one[:])
	})
	return nil
}

func (l *exclusiveListener) Addr() net.Addr { return l.addr }

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}
