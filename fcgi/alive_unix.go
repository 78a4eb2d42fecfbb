//go:build unix

package fcgi

import (
	"errors"
	"net"
	"syscall"
)

// liveness checks whether an idle connection can still carry a request: the
// application has neither closed it (php-fpm does after pm.max_requests)
// nor sent stray bytes. One non-blocking read on the socket tells; Go's
// network file descriptors are non-blocking, so EAGAIN means "still open,
// nothing to read". The raw conn and callback are kept per connection to
// avoid allocating on each reuse.
type liveness struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	ok  bool
	buf [1]byte
}

func (l *liveness) init(nc net.Conn) {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			l.rc = rc
			l.fn = l.peek
		}
	}
}

func (l *liveness) peek(fd uintptr) bool {
	n, err := syscall.Read(int(fd), l.buf[:])
	l.ok = n < 0 && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK))
	return true // never wait for readiness
}

func (l *liveness) alive() bool {
	if l.rc == nil {
		return true
	}
	l.ok = false
	err := l.rc.Read(l.fn)
	return err == nil && l.ok
}
