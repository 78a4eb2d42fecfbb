package sockets

// TCP sockets: bound with SO_REUSEADDR, and an address in use named by
// the process that holds it.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// tcpSockaddr resolves a TCP listen address ("host:port", "[v6]:port").
func tcpSockaddr(addr string) (family int, sa unix.Sockaddr, ta *net.TCPAddr, err error) {
	ta, err = net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("resolving %s: %w", addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s.Addr[:], ip4)
		}
		return unix.AF_INET, s, ta, nil
	}
	s := &unix.SockaddrInet6{Port: ta.Port}
	copy(s.Addr[:], ta.IP.To16())
	if ta.Zone != "" {
		if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
			s.ZoneId = uint32(ifi.Index)
		}
	}
	return unix.AF_INET6, s, ta, nil
}

// bindTCP creates a TCP socket bound to addr (SO_REUSEADDR, as every
// restart needs while old connections are in TIME_WAIT). An address in use
// is an error naming the process that listens there.
func (pr Probe) bindTCP(addr string) (int, error) {
	family, sa, ta, err := tcpSockaddr(addr)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("creating socket for %s: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setting SO_REUSEADDR on %s: %w", addr, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			if h, ok := pr.tcpHolder(addrPort(ta)); ok {
				return -1, &InUseError{addr, h}
			}
			return -1, fmt.Errorf("listen %q: address already in use", addr)
		}
		return -1, fmt.Errorf("binding %s: %w", addr, err)
	}
	return fd, nil
}

// addrPort converts a resolved TCP address; a nil IP is the wildcard.
func addrPort(ta *net.TCPAddr) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(ta.Port))
}
