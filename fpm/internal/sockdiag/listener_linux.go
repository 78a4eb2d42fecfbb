package sockdiag

// Questions about one listening socket, and the lookups that name the
// listener of an address.

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listener identifies a listening socket in the kernel's tables.
type Listener struct {
	Ino    uint64 // socket inode
	Family int    // AF_UNIX, AF_INET or AF_INET6
	Type   int    // SOCK_STREAM (or SOCK_SEQPACKET for AF_UNIX)
	// Name is, for AF_UNIX, the bound name as UNIX_DIAG_NAME reports it:
	// the name at bind time, which is not the file's when the socket was
	// bound under a temporary name and renamed, and which spells an
	// abstract name with a leading NUL (a path ends with one).
	Name     []byte
	Port     uint16   // TCP: the local port
	Addr     [16]byte // TCP: the local address (IPv4 in the first 4 bytes)
	Wildcard bool     // TCP: bound to 0.0.0.0 or ::
}

// Identify records what identifies the listening socket rc in the kernel's
// tables: its inode, family and type and, for Unix sockets, the bound name
// as the kernel stores it (asked of the kernel), for TCP the local address
// and port. It fails for anything but a listening Unix stream or seqpacket
// socket or a listening TCP socket. The socket's mode is not changed.
func (c *Conn) Identify(rc syscall.RawConn) (Listener, error) {
	var l Listener
	var sa unix.Sockaddr
	var cerr error
	err := rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if cerr = unix.Fstat(int(fd), &st); cerr != nil {
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			cerr = errors.New("not a socket")
			return
		}
		l.Ino = uint64(st.Ino)
		if l.Family, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); cerr != nil {
			return
		}
		if l.Type, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); cerr != nil {
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
		if l.Family == unix.AF_INET || l.Family == unix.AF_INET6 {
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
		return Listener{}, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		if l.Type != unix.SOCK_STREAM && l.Type != unix.SOCK_SEQPACKET {
			return Listener{}, fmt.Errorf("socket type %d", l.Type)
		}
		// Take the name from the kernel's own report, so that it compares
		// byte for byte with the accepted sockets' names (x/sys spells an
		// abstract name with '@', the kernel with a NUL).
		var found bool
		err = c.unixGet(l.Ino, udiagShowName, func(m unixMsg) {
			if uint64(m.ino) == l.Ino && m.state == tcpListen {
				l.Name = append([]byte(nil), m.name...)
				found = true
			}
		})
		if err == nil && (!found || len(l.Name) == 0) {
			err = errors.New("sock_diag does not report the listener or its name")
		}
		if err != nil {
			return Listener{}, err
		}
	case *unix.SockaddrInet4:
		if l.Type != unix.SOCK_STREAM {
			return Listener{}, fmt.Errorf("socket type %d", l.Type)
		}
		l.Port = uint16(a.Port)
		copy(l.Addr[:], a.Addr[:])
		l.Wildcard = a.Addr == [4]byte{}
	case *unix.SockaddrInet6:
		if l.Type != unix.SOCK_STREAM {
			return Listener{}, fmt.Errorf("socket type %d", l.Type)
		}
		l.Port = uint16(a.Port)
		l.Addr = a.Addr
		l.Wildcard = a.Addr == [16]byte{}
	default:
		return Listener{}, fmt.Errorf("unsupported address family %d", l.Family)
	}
	return l, nil
}

var errNotReported = errors.New("sock_diag does not report the listener")

// Queue returns the number of connections waiting to be accepted on l and
// its backlog limit (Unix: UNIX_DIAG_RQLEN, udiag_rqueue and udiag_wqueue;
// TCP: idiag_rqueue = sk_ack_backlog, idiag_wqueue = sk_max_ack_backlog).
func (c *Conn) Queue(l *Listener) (queued, backlog int, err error) {
	found := false
	if l.Family == unix.AF_UNIX {
		err = c.unixGet(l.Ino, udiagShowRQLen, func(m unixMsg) {
			if uint64(m.ino) == l.Ino && m.state == tcpListen && m.hasRQ {
				queued, backlog, found = int(m.rqueue), int(m.wqueue), true
			}
		})
	} else {
		err = c.inetDump(l.Family, l.Port, 1<<tcpListen, func(m inetMsg) {
			if uint64(m.inode) == l.Ino {
				queued, backlog, found = int(m.rqueue), int(m.wqueue), true
			}
		})
	}
	if err == nil && !found {
		err = errNotReported
	}
	if err != nil {
		return 0, 0, err
	}
	return queued, backlog, nil
}

// Pending returns the inodes of the client sockets whose connections wait
// in a Unix listener's accept queue (UNIX_DIAG_ICONS). The kernel builds the
// reply in at most one page, so a long queue makes this fail; Queue has no
// such limit.
func (c *Conn) Pending(l *Listener) ([]uint32, error) {
	if l.Family != unix.AF_UNIX {
		return nil, errors.New("not a Unix socket")
	}
	var icons []uint32
	found := false
	err := c.unixGet(l.Ino, udiagShowIcons, func(m unixMsg) {
		if uint64(m.ino) == l.Ino {
			icons, found = m.icons, true
		}
	})
	if err == nil && !found {
		err = errNotReported
	}
	return icons, err
}

// Accepted adds to conns (as false) the inodes of the connections accepted
// from l that a process can still hold, whoever holds them, with one dump.
//
// Unix: a UNIX_DIAG dump of the ESTABLISHED sockets; an accepted Unix
// socket carries the listener's bound name (the kernel copies the address
// into it at connect time; the client's end has no name), so the
// connections are the sockets of the listener's type named like it.
//
// TCP: an inet_diag dump of the sockets on the listener's port in the
// states in which a process can still hold one (ESTABLISHED, CLOSE_WAIT,
// FIN_WAIT1/2, LAST_ACK, CLOSING), the local address checked unless the
// listener is bound to the wildcard address.
func (c *Conn) Accepted(l *Listener, conns map[uint64]bool) error {
	if l.Family == unix.AF_UNIX {
		return c.unixDump(1<<tcpEstablished, udiagShowName|udiagShowPeer, func(m unixMsg) {
			if int(m.typ) == l.Type && m.state != tcpListen && bytes.Equal(m.name, l.Name) {
				conns[uint64(m.ino)] = false
			}
		})
	}
	return c.inetDump(l.Family, l.Port, tcpConnStates, func(m inetMsg) {
		if m.inode != 0 && (l.Wildcard || l.sameAddr(m.src)) {
			conns[uint64(m.inode)] = false
		}
	})
}

func (l *Listener) sameAddr(src [16]byte) bool {
	if l.Family == unix.AF_INET {
		return [4]byte(src[:4]) == [4]byte(l.Addr[:4])
	}
	return src == l.Addr
}

// UnixListenerAt returns the socket inode of the listening Unix socket
// whose file is path (same device and inode: the name the kernel recorded
// at bind time may be another, as a socket may be bound under a temporary
// name). found is false when no listener in this network namespace has it.
func UnixListenerAt(path string) (ino uint64, found bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, false, err
	}
	var c Conn
	defer c.Close()
	err = c.unixDump(1<<tcpListen, udiagShowVFS, func(m unixMsg) {
		if found || !m.hasVFS {
			return
		}
		dev := unix.Mkdev(m.vfsDev>>20, m.vfsDev&0xfffff)
		if uint64(m.vfsIno) == st.Ino && dev == st.Dev {
			ino, found = uint64(m.ino), true
		}
	})
	return ino, found, err
}

// TCPListenersOn returns the socket inodes of the TCP listeners that a
// bind to ap conflicts with: same port, and same address or a wildcard on
// either side.
func TCPListenersOn(ap netip.AddrPort) ([]uint64, error) {
	var out []uint64
	want := ap.Addr().Unmap()
	var c Conn
	defer c.Close()
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		err := c.inetDump(fam, ap.Port(), 1<<tcpListen, func(m inetMsg) {
			var a netip.Addr
			if fam == unix.AF_INET {
				a = netip.AddrFrom4([4]byte(m.src[:4]))
			} else {
				a = netip.AddrFrom16(m.src).Unmap()
			}
			if a.IsUnspecified() || !want.IsValid() || want.IsUnspecified() || a == want {
				out = append(out, uint64(m.inode))
			}
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
