//go:build linux

package fcgi

// This file dials a Unix socket with two system calls, socket and connect,
// where net.Dialer also reads back both addresses (getsockname and
// getpeername) and goes through its resolver and parallel-dial machinery:
// the front and the master dial a worker per request, so that was a fifth
// of the front's CPU (docs/performance.md).

import (
	"context"
	"net"
	"os"
	"syscall"
	"time"
)

// dialUnix connects to the Unix socket at addr (the Client's, made once).
// A Unix stream connect never completes later: it succeeds, or fails at
// once (EAGAIN when the listen queue is full, as nginx sees it too).
func dialUnix(ctx context.Context, addr *net.UnixAddr) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := addr.Name
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: addr, Err: os.NewSyscallError("socket", err)}
	}
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: addr, Err: os.NewSyscallError("connect", err)}
	}
	return &unixConn{f: os.NewFile(uintptr(fd), path), raddr: addr}, nil
}

// unixConn is a dialed Unix socket in Go's network poller (an *os.File on
// a non-blocking descriptor), with net's error shapes.
type unixConn struct {
	f     *os.File
	raddr *net.UnixAddr
}

var unixLocal = &net.UnixAddr{Net: "unix"}

func (c *unixConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, c.opError("read", err)
}

func (c *unixConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.opError("write", err)
}

func (c *unixConn) opError(op string, err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return &net.OpError{Op: op, Net: "unix", Source: unixLocal, Addr: c.raddr, Err: pe.Err}
	}
	return err
}

func (c *unixConn) Close() error                       { return c.f.Close() }
func (c *unixConn) LocalAddr() net.Addr                { return unixLocal }
func (c *unixConn) RemoteAddr() net.Addr               { return c.raddr }
func (c *unixConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *unixConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *unixConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn lets the idle-connection liveness check peek at the socket.
func (c *unixConn) SyscallConn() (syscall.RawConn, error) { return c.f.SyscallConn() }
