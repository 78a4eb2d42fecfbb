package worker

// listen_allowed_clients, enforced by the worker as php-fpm's workers do
// (main/fastcgi.c): right after accept(), a TCP connection from an address
// not in the list is closed without reading from it. Unix-socket peers are
// always allowed. The master also drops such clients in the kernel (a
// socket filter on the pool's TCP listener), so this check is the second
// line, and the only one for a worker run standalone with
// GOFPM_ALLOWED_CLIENTS set.

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gofpm/gofpm/worker/proto"
)

// dropLogEvery is how often a refused address is logged at most.
const dropLogEvery = time.Minute

// allowList is a parsed proto.EnvAllowedClients; nil allows everyone.
type allowList struct {
	addrs map[netip.Addr]bool
	log   io.Writer
	now   func() time.Time

	mu     sync.Mutex
	logged map[netip.Addr]time.Time // last report per refused address
	quiet  map[netip.Addr]int       // refusals not reported since
}

// parseAllowList parses a comma-separated list of exact IPv4/IPv6
// addresses, reporting bad entries to log as php-fpm does. A list with no
// valid entry refuses every client rather than allowing all.
func parseAllowList(s string, log io.Writer) *allowList {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	l := &allowList{addrs: map[netip.Addr]bool{}, log: log, now: time.Now,
		logged: map[netip.Addr]time.Time{}, quiet: map[netip.Addr]int{}}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			fmt.Fprintf(log, "ERROR: Wrong IP address '%s' in listen.allowed_clients\n", e)
			continue
		}
		l.addrs[a.Unmap()] = true
	}
	if len(l.addrs) == 0 {
		fmt.Fprintln(log, "ERROR: There are no allowed addresses")
	}
	return l
}

// allowListFromEnv reads proto.EnvAllowedClients.
func allowListFromEnv() *allowList {
	return parseAllowList(os.Getenv(proto.EnvAllowedClients), os.Stderr)
}

// allow reports whether the peer of a connection may be served; a refused
// peer is logged at most once per dropLogEvery, with the count of the
// refusals not logged in between.
func (l *allowList) allow(peer net.Addr) bool {
	if l == nil {
		return true
	}
	ta, ok := peer.(*net.TCPAddr)
	if !ok {
		return true // Unix-socket peers are always allowed
	}
	a, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	a = a.Unmap()
	if l.addrs[a] {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, ok := l.logged[a]; ok && now.Sub(last) < dropLogEvery {
		l.quiet[a]++
		return false
	}
	more := ""
	if n := l.quiet[a]; n > 0 {
		more = fmt.Sprintf(" (and %d more times since the last report)", n)
	}
	fmt.Fprintf(l.log, "ERROR: Connection disallowed: IP address '%s' has been dropped.%s\n", a, more)
	l.logged[a], l.quiet[a] = now, 0
	if len(l.logged) > 4096 { // bound the memory a scan of many addresses can take
		for k, t := range l.logged {
			if now.Sub(t) >= dropLogEvery {
				delete(l.logged, k)
				delete(l.quiet, k)
			}
		}
	}
	return false
}

// withAllowList overrides GOFPM_ALLOWED_CLIENTS (tests).
func withAllowList(l *allowList) Option { return func(s *server) { s.allowed = l } }
