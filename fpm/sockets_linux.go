package fpm

// Linux parts of the socket hardening: writing a socket's ACL, the kernel
// filter behind listen_allowed_clients, and naming the process that holds
// an address (sock_diag plus /proc/PID/fd).

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/fpm/internal/sockdiag"
	"golang.org/x/sys/unix"
)

// setACL writes acl as path's access ACL.
func setACL(path string, acl []aclEntry) error {
	err := unix.Lsetxattr(path, aclXattr, aclEncode(acl), 0)
	if errors.Is(err, unix.ENOTSUP) {
		return errors.New("the filesystem does not support POSIX ACLs")
	}
	return err
}

// readACL returns path's access ACL, nil when it has none.
func readACL(path string) ([]aclEntry, error) {
	buf := make([]byte, 4+8*32)
	for {
		n, err := unix.Lgetxattr(path, aclXattr, buf)
		switch {
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case err != nil:
			return nil, err
		}
		return aclDecode(buf[:n])
	}
}

// aclSupported reports whether dir's filesystem takes POSIX ACLs.
func aclSupported(dir string) bool {
	_, err := unix.Lgetxattr(dir, aclXattr, nil)
	return !errors.Is(err, unix.ENOTSUP)
}

// fsName names the filesystem path is on, "TYPE mounted on DIR", from
// /proc/self/mountinfo (the longest mount point that is a prefix of path).
func fsName(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown filesystem"
	}
	defer f.Close()
	best, name := "", "unknown filesystem"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, pfields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(pfields) < 1 {
			continue
		}
		mp := unescapeMount(fields[4])
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best, name = mp, pfields[0]+" mounted on "+mp
		}
	}
	return name
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- listen_allowed_clients ----

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

// setAllowedClients attaches the allowed-clients filter to the TCP socket
// f, or removes any filter when addrs is empty (a socket inherited across
// a reload keeps the filter the previous master gave it).
func setAllowedClients(f *os.File, list []string) error {
	var addrs []netip.Addr
	for _, s := range list {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("listen_allowed_clients: %q is not an IP address", s)
		}
		addrs = append(addrs, a)
	}
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

// ---- who holds an address ----

// pickHolder chooses the process to blame for holding a socket among
// pids: the ones whose parent is not a holder too (a master rather than
// its workers, which share the socket), preferring a gofpm or php-fpm
// master, then the lowest pid.
func pickHolder(pids []int) (sockHolder, bool) {
	if len(pids) == 0 {
		return sockHolder{}, false
	}
	slices.Sort(pids)
	var tops []int
	for _, p := range pids {
		if st, _ := procfs.ReadStat(p); !slices.Contains(pids, st.PPID) {
			tops = append(tops, p)
		}
	}
	if len(tops) == 0 {
		tops = pids
	}
	best := sockHolder{tops[0], procComm(tops[0])}
	for _, p := range tops {
		if c := procComm(p); strings.HasPrefix(c, "gofpm") || strings.HasPrefix(c, "php-fpm") {
			best = sockHolder{p, c}
			break
		}
	}
	return best, true
}

func procComm(pid int) string {
	c, err := procfs.Comm(pid)
	if err != nil {
		return "?"
	}
	return c
}

// unixHolder names the process listening on the Unix socket file path;
// false when none is found in this network namespace.
func unixHolder(path string) (sockHolder, bool) {
	ino, found, err := sockdiag.UnixListenerAt(path)
	if err != nil || !found {
		return sockHolder{}, false
	}
	return pickHolder(procfs.SocketHolders(ino))
}

// tcpHolder names the process listening on a TCP address that conflicts
// with ap; false when none is found.
func tcpHolder(ap netip.AddrPort) (sockHolder, bool) {
	inos, _ := sockdiag.TCPListenersOn(ap)
	var pids []int
	for _, ino := range inos {
		for _, p := range procfs.SocketHolders(ino) {
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	return pickHolder(pids)
}
