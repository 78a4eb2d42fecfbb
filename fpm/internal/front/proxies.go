package front

// This file finds the client behind trusted proxies (nginx's real_ip
// module with real_ip_recursive on).

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientOf returns the client's address when r came through a trusted
// proxy ("" to keep r.RemoteAddr), and whether that proxy said the client
// used https.
func (s *Server) clientOf(r *http.Request) (remote string, https bool) {
	if len(s.trusted) == 0 {
		return "", false
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.isTrusted(peer.Addr()) {
		return "", false
	}
	https = strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
	// Walk X-Forwarded-For from the right: the nearest hop that is not a
	// trusted proxy is the client; anything left of it could be forged.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: stop at the last good hop
		}
		remote = netip.AddrPortFrom(a.Unmap(), 0).String()
		if !s.isTrusted(a) {
			break
		}
	}
	return remote, https
}

func (s *Server) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
