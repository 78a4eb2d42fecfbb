package sockdiag

// The netlink transport: one NETLINK_SOCK_DIAG socket, a request at a time.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

const (
	recvBuf        = 64 << 10 // ≥ any netlink skb the kernel builds for us
	maxDumpBytes   = 64 << 20 // about 400k sockets: a bound, not a limit in practice
	requestTimeout = 2 * time.Second
)

// Conn is a NETLINK_SOCK_DIAG socket, opened at the first request and
// after any error (so that nothing stale is read by the next request).
// Every request waits for its answer for 2 s at most. The zero value is
// ready; a Conn is not safe for concurrent use.
type Conn struct {
	fd   int
	open bool
	seq  uint32
	buf  []byte
}

// Close closes the netlink socket; a later request opens another.
func (c *Conn) Close() error {
	if c.open {
		c.open = false
		return unix.Close(c.fd)
	}
	return nil
}

// dial opens the netlink socket with bounded blocking.
func (c *Conn) dial() error {
	if c.open {
		return nil
	}
	if c.buf == nil {
		c.buf = make([]byte, recvBuf)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("opening a sock_diag socket: %w", err)
	}
	tv := unix.NsecToTimeval(int64(requestTimeout))
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
	c.fd, c.open = fd, true
	return nil
}

// request sends one SOCK_DIAG_BY_FAMILY request and passes the payload of
// every reply message to fn. A dump ends with NLMSG_DONE; a single request
// is sent with NLM_F_ACK and ends with the acknowledgement. Messages of other
// sequence numbers (left from an aborted request) are skipped. Any error
// closes the socket.
func (c *Conn) request(body []byte, dump bool, fn func([]byte) error) (err error) {
	if err := c.dial(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.seq++
	seq := c.seq
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
		err = unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	deadline := time.Now().Add(requestTimeout)
	total := 0
	for {
		if time.Now().After(deadline) {
			return errors.New("sock_diag: no complete answer in time")
		}
		n, _, rflags, _, err := unix.Recvmsg(c.fd, c.buf, nil, 0)
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
		if total += n; total > maxDumpBytes {
			return errors.New("sock_diag: reply too large")
		}
		b := c.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(ne.Uint32(b[0:4]))
			typ := ne.Uint16(b[4:6])
			mseq := ne.Uint32(b[8:12])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return errors.New("sock_diag: malformed reply")
			}
			payload := b[unix.NLMSG_HDRLEN:l]
			if a := align(l); a < len(b) {
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

// unixGet asks for one Unix socket by inode (unix_diag's lookup).
func (c *Conn) unixGet(ino uint64, show uint32, fn func(unixMsg)) error {
	return c.request(unixReq(^uint32(0), uint32(ino), show), false, func(b []byte) error {
		if m, ok := parseUnix(b); ok {
			fn(m)
		}
		return nil
	})
}

// unixDump dumps the Unix sockets in states.
func (c *Conn) unixDump(states, show uint32, fn func(unixMsg)) error {
	return c.request(unixReq(states, 0, show), true, func(b []byte) error {
		if m, ok := parseUnix(b); ok {
			fn(m)
		}
		return nil
	})
}

// inetDump dumps the TCP sockets of family in states whose local port is port.
func (c *Conn) inetDump(family int, port uint16, states uint32, fn func(inetMsg)) error {
	return c.request(inetReq(family, port, states), true, func(b []byte) error {
		if m, ok := parseInet(b); ok && m.sport == port {
			fn(m)
		}
		return nil
	})
}
