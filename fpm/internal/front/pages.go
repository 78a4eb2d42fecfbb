package front

// This file answers the master's own pages on the front (the default
// pool's status and ping pages, its dashboard, the metrics) and keeps the
// status page, the dashboard and the metrics to the clients in
// pages_allow: the status page lists every worker's request URI with its
// query string (tokens, session ids), so a front bound to 0.0.0.0 must not
// publish it. Ping stays open to all: health checks come from anywhere.

import (
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// ownPage answers the request if it is one of the front's own pages and
// reports whether it did: metrics_path, then the default pool's status
// and ping pages, then its dashboard. A client not in pages_allow gets 403
// for all but ping (a 403 says no more than nginx's "deny": that the page
// is there, which /status is on every php-fpm).
func (s *Server) ownPage(w http.ResponseWriter, r *http.Request, clean string) bool {
	p := s.pages
	switch {
	case s.opts.MetricsPath != "" && s.opts.Metrics != nil && clean == s.opts.MetricsPath:
		if s.deny(w, r) {
			return true
		}
		s.opts.Metrics.ServeHTTP(w, r)
	case p != nil && clean != "/" && clean == p.PingPath:
		s.servePage(w, r, clean)
	case p != nil && clean != "/" && clean == p.StatusPath:
		if !s.deny(w, r) {
			s.servePage(w, r, clean)
		}
	case p != nil && p.Dashboard != nil && clean == p.DashboardPath:
		if !s.deny(w, r) {
			p.Dashboard.ServeHTTP(w, r)
		}
	default:
		return false
	}
	return true
}

// deny answers 403 and returns true when the client may not see the
// pages.
func (s *Server) deny(w http.ResponseWriter, r *http.Request) bool {
	if s.pageAllowed(r) {
		return false
	}
	http.Error(w, "Forbidden", http.StatusForbidden)
	return true
}

// pageAllowed reports whether the client (r.RemoteAddr, the client behind
// trusted proxies already) is in pages_allow.
func (s *Server) pageAllowed(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range s.opts.PagesAllow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// guarded reports whether a path routed to u is u's status page or
// dashboard, which a worker of u would answer itself (Go workers relay
// them to the master): pages_allow holds for them too.
func (u *upstream) guarded(clean string) bool {
	return clean != "/" && (clean == u.statusPath || clean == u.dashboardPath)
}

// servePage answers the default pool's status or ping page from the master,
// so it answers even when every worker is busy.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, name string) {
	status, header, body := s.pages.Page(map[string]string{
		"REQUEST_METHOD": r.Method, "SCRIPT_NAME": name, "SCRIPT_FILENAME": name,
		"QUERY_STRING": r.URL.RawQuery,
	}, time.Now())
	for _, line := range header {
		if k, v, ok := strings.Cut(line, ":"); ok {
			w.Header().Add(k, strings.TrimSpace(v)) // canonical case: net/http looks for Content-Type
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(body)
}
