package sockets

// listen_allowed_clients on Linux: a classic BPF socket filter on the TCP
// listener, which the kernel runs on each incoming SYN.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// skfNetOff is SKF_NET_OFF: classic BPF loads at this offset read the
// network (IP) header, whatever the socket filter's skb->data points at.
const skfNetOff = -0x100000

// clientFilter builds a classic BPF socket filter that keeps packets whose
// IP source is one of addrs and drops every other. On a TCP listener the
// kernel runs it on each incoming SYN (tcp_filter, before the handshake),
// so a client not in the list never gets a connection; accepted sockets
// inherit the filter, which lets the listed clients' packets through.
// IPv4 entries also match IPv4 packets reaching a dual-stack IPv6 socket
// (they stay IPv4 on the wire); an IPv4-mapped IPv6 entry counts as IPv4.
func clientFilter(addrs []netip.Addr) []unix.SockFilter {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	ld := func(size uint16, off int) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | size | unix.BPF_ABS, K: uint32(int32(skfNetOff + off))}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
	}
	ja := func(k int) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(k)} }
	accept := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: ^uint32(0)}
	drop := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0}

	v4len := 1 + 2*len(v4) + 1 // load, {jeq, ret} per address, drop
	prog := []unix.SockFilter{
		ld(unix.BPF_B, 0), // version and IHL
		{Code: unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K, K: 4},
		jeq(4, 0, 1),
		ja(3),        // to the IPv4 block at 7
		jeq(6, 0, 1), // 4
		ja(1 + v4len),
		drop, // 6: neither
	}
	// IPv4 block: source address at offset 12.
	prog = append(prog, ld(unix.BPF_W, 12))
	for _, a := range v4 {
		b := a.As4()
		prog = append(prog, jeq(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]), 0, 1), accept)
	}
	prog = append(prog, drop)
	// IPv6 block: source address at offset 8, compared 32 bits at a time;
	// a mismatch skips to the next address.
	for _, a := range v6 {
		b := a.As16()
		for i := range 4 {
			w := uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
			prog = append(prog, ld(unix.BPF_W, 8+4*i), jeq(w, 0, uint8(7-2*i)))
		}
		prog = append(prog, accept)
	}
	return append(prog, drop)
}

// SetAllowedClients attaches the allowed-clients filter to the TCP socket
// f, or removes any filter when addrs is empty (a socket inherited across
// a reload keeps the filter the previous master gave it).
func SetAllowedClients(f *os.File, addrs []netip.Addr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if len(addrs) == 0 {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
			if errors.Is(serr, unix.ENOENT) {
				serr = nil
			}
			return
		}
		prog := clientFilter(addrs)
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("applying listen_allowed_clients to %s: %w", f.Name(), err)
	}
	return nil
}
