package sockets

// Naming the process that holds an address, so that "in use" says by whom.
// The lookups themselves (the kernel's socket table through sock_diag,
// /proc/PID/fd, comm and stat) are not this package's: the caller passes
// them in a Probe.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Probe is how the holder of a socket is found. Any func may be nil (on
// systems without sock_diag, all are): the holder is then not named.
type Probe struct {
	// UnixListener returns the socket inode of the listening Unix socket
	// whose file is path; found is false when no listener in this network
	// namespace has it.
	UnixListener func(path string) (ino uint64, found bool, err error)
	// TCPListeners returns the socket inodes of the TCP listeners a bind
	// to ap conflicts with.
	TCPListeners func(ap netip.AddrPort) ([]uint64, error)
	// Holders lists the processes with an fd on socket inode ino.
	Holders func(ino uint64) []int
	// Comm and PPID read a process's name and parent pid.
	Comm func(pid int) string
	PPID func(pid int) int
}

// Holder is the process found holding a listening socket; Pid 0 when the
// socket is in use but its holder is not visible (another network
// namespace, no access to /proc).
type Holder struct {
	Pid  int
	Comm string
}

func (h Holder) String() string {
	if h.Pid == 0 {
		return "a process not visible from here"
	}
	return fmt.Sprintf("pid %d (%s)", h.Pid, h.Comm)
}

// InUseError is an address or socket held by a live process.
type InUseError struct {
	Addr   string
	Holder Holder
}

func (e *InUseError) Error() string { return fmt.Sprintf("listen %q: in use by %s", e.Addr, e.Holder) }

func (pr Probe) comm(pid int) string {
	if pr.Comm == nil {
		return "?"
	}
	return pr.Comm(pid)
}

func (pr Probe) holders(ino uint64) []int {
	if pr.Holders == nil {
		return nil
	}
	return pr.Holders(ino)
}

// pickHolder chooses the process to blame for holding a socket among
// pids: the ones whose parent is not a holder too (a master rather than
// its workers, which share the socket), preferring a gofpm or php-fpm
// master, then the lowest pid.
func (pr Probe) pickHolder(pids []int) (Holder, bool) {
	if len(pids) == 0 {
		return Holder{}, false
	}
	slices.Sort(pids)
	var tops []int
	for _, pid := range pids {
		if pr.PPID == nil || !slices.Contains(pids, pr.PPID(pid)) {
			tops = append(tops, pid)
		}
	}
	if len(tops) == 0 {
		tops = pids
	}
	best := Holder{tops[0], pr.comm(tops[0])}
	for _, pid := range tops {
		if c := pr.comm(pid); strings.HasPrefix(c, "gofpm") || strings.HasPrefix(c, "php-fpm") {
			best = Holder{pid, c}
			break
		}
	}
	return best, true
}

// unixHolder names the process listening on the Unix socket file path;
// false when none is found in this network namespace.
func (pr Probe) unixHolder(path string) (Holder, bool) {
	if pr.UnixListener == nil {
		return Holder{}, false
	}
	ino, found, err := pr.UnixListener(path)
	if err != nil || !found {
		return Holder{}, false
	}
	return pr.pickHolder(pr.holders(ino))
}

// tcpHolder names the process listening on a TCP address that conflicts
// with ap; false when none is found.
func (pr Probe) tcpHolder(ap netip.AddrPort) (Holder, bool) {
	if pr.TCPListeners == nil {
		return Holder{}, false
	}
	inos, _ := pr.TCPListeners(ap)
	var pids []int
	for _, ino := range inos {
		for _, pid := range pr.holders(ino) {
			if !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pr.pickHolder(pids)
}
