//go:build linux

package worker

// This file is the connection type of a worker on Linux: a non-blocking
// socket registered with Go's network poller, read and written with raw
// system calls.
//
// A normal Go system call tells the scheduler it may block; with
// GOMAXPROCS=1 the scheduler's monitor thread then keeps waking every 20µs
// to see whether it should hand the P to another thread. With 8 workers on
// 2 cores those wake-ups were half of all context switches and the pool
// served half of what 2 workers did. A read or write on a non-blocking
// socket never blocks, so it is made as a raw system call, and the poller
// is asked to wait only when the kernel says EAGAIN.

import (
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type rawConn struct {
	f       *os.File
	rc      syscall.RawConn
	laddr   net.Addr
	raddr   net.Addr
	noYield bool
}

// noYield tells c's next Read not to yield and retry when the socket has
// nothing: the caller knows nothing is coming soon.
func noYield(c net.Conn) {
	if rc, ok := c.(*rawConn); ok {
		rc.noYield = true
	}
}

// newRawConn takes over fd, an accepted non-blocking socket. For TCP the
// peer's address is read once (the access log's %R); a Unix peer has none.
func newRawConn(fd int, laddr net.Addr) (*rawConn, error) {
	raddr := laddr
	if _, tcp := laddr.(*net.TCPAddr); tcp {
		if sa, err := unix.Getpeername(fd); err == nil {
			raddr = sockaddrToAddr(sa)
		}
	} else {
		raddr = &net.UnixAddr{Net: "unix"}
	}
	f := os.NewFile(uintptr(fd), "fcgi-conn")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawConn{f: f, rc: rc, laddr: laddr, raddr: raddr}, nil
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	yielded := c.noYield
	c.noYield = false
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafePointer(p)), uintptr(len(p)))
			n, errno = int(r), e
			if errno != unix.EAGAIN {
				return true
			}
			// Nothing to read yet: let the other goroutines run once
			// (the handler usually answers now, and the web server's
			// next bytes arrive meanwhile) before parking in the poller,
			// which would idle the P and wake the runtime's monitor.
			if yielded {
				return false
			}
			yielded = true
			runtime.Gosched()
		}
	})
	if err != nil {
		return 0, err
	}
	switch {
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "unix", Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, errEOF
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		var n int
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			b := p[written:]
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafePointer(b)), uintptr(len(b)))
			n, errno = int(r), e
			return errno != unix.EAGAIN
		})
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, &net.OpError{Op: "write", Net: "unix", Err: os.NewSyscallError("write", errno)}
		}
		written += n
	}
	return written, nil
}

func (c *rawConn) Close() error                       { return c.f.Close() }
func (c *rawConn) LocalAddr() net.Addr                { return c.laddr }
func (c *rawConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *rawConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *rawConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *rawConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

var _ net.Conn = (*rawConn)(nil)
