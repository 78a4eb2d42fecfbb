// Package front is gofpm's thin built-in HTTP front: it serves HTTP (and
// HTTPS with HTTP/2) on a listener it is handed, and turns each request
// into a FastCGI request to a pool, with the params nginx's stock
// fastcgi_params sends. It knows the pools only through Pool, which fpm's
// glue fills: where a pool listens, its access logger and its own pages.
// It drains on a graceful stop so that a reload loses no request. As a
// PHP host it never serves or runs a file outside its root, passes a pool
// that runs scripts only scripts that exist, and shows its pages only to
// pages_allow (route.go, static.go, pages.go).
package front

// This file holds the server: its options, serving, tracking connections
// and the drain.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/rs/zerolog"
)

// Options is what the front needs from the config, as resolved values,
// and the pools it passes requests to.
type Options struct {
	// Listener is already listening (inherited or new); the front serves
	// on it and closes it when it stops.
	Listener net.Listener
	// TLS, when set, makes the front serve HTTPS (HTTP/2 and HTTP/1.1 by
	// ALPN); see LoadTLS.
	TLS *tls.Config
	Log zerolog.Logger

	Pools       []Pool  // every pool
	DefaultPool string  // the pool of paths no route matches; "" for none
	Routes      []Route // [[http.route]]
	// Metrics answers MetricsPath (metrics_path); neither set: that path
	// goes to the pools like any other.
	Metrics     http.Handler
	MetricsPath string

	// Root is the document root; "" (application pools only) passes
	// every path as it is.
	Root  string
	Index []string // index files of a directory
	// ScriptExtensions are the extensions (".php" always is one) of paths
	// that are scripts for the pools rather than files to serve: every
	// pool's security_limit_extensions. A script is never served as a
	// file.
	ScriptExtensions []string
	// ServeDotfiles (serve_dotfiles) lets paths with a part starting with
	// "." be files; otherwise they are 404 but under /.well-known/.
	ServeDotfiles bool
	// FollowSymlinksOutsideRoot (follow_symlinks_outside_root) lets
	// symbolic links under Root lead outside it.
	FollowSymlinksOutsideRoot bool
	// ServerName is SERVER_NAME (server_name), never the client's Host.
	ServerName string
	// PagesAllow (pages_allow) are the clients that may see the status
	// pages, dashboards and metrics; empty: nobody.
	PagesAllow []netip.Prefix
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix

	ReadHeaderTimeout time.Duration // client_header_timeout
	IdleTimeout       time.Duration // keepalive_timeout
	ConnectTimeout    time.Duration // fastcgi_connect_timeout
	ReadTimeout       time.Duration // fastcgi_read_timeout, until the header
	MaxHeaderBytes    int           // large_client_header_buffers
	MaxBodyBytes      int64         // client_max_body_size

	Buffering // bodies and answers buffered, slow clients (buffers.go)
}

// Pool is one pool as the front sees it.
type Pool struct {
	Name             string
	Network, Address string // where the pool's workers accept FastCGI
	// Scripts: the pool's workers run the file a request names (php-cgi,
	// the CGI bridge). Such a pool gets only requests for scripts that
	// exist under Root with one of Extensions (any file when empty).
	Scripts    bool
	Extensions []string
	// AccessLog wraps next so that it writes the pool's access line for
	// each request unless workerLogged reports that the pool's worker
	// wrote it itself (Go workers answer the front with
	// proto.HeaderAccessLogged); nil without access_log.
	AccessLog func(next http.Handler, workerLogged func(*http.Request) bool) http.Handler
	// The pool's own pages, which the front answers without a worker for
	// the default pool. StatusPath and PingPath are pm_status_path and
	// ping_path ("" for none); Page answers either from FastCGI params
	// (REQUEST_METHOD, SCRIPT_NAME, SCRIPT_FILENAME, QUERY_STRING) with
	// the status (0 for 200), the header lines ("Name: value") and the
	// body.
	StatusPath, PingPath string
	Page                 func(params map[string]string, now time.Time) (status int, header []string, body []byte)
	// DashboardPath is where Dashboard is served ("" for nowhere).
	DashboardPath string
	Dashboard     http.Handler
	// Dial, when set, makes the connections to the pool in place of
	// Network and Address: a pool with dispatch = "master" takes the
	// front's requests in-process.
	Dial func(ctx context.Context) (net.Conn, error)
}

// Route sends the requests whose path starts with Prefix to the pool Pool.
type Route struct{ Prefix, Pool string }

// Server is the running front.
type Server struct {
	opts    Options
	log     zerolog.Logger
	ln      net.Listener
	srv     *http.Server
	pages   *Pool                // the default pool, whose status and ping pages the front answers itself
	def     *upstream            // the default pool; nil without one
	byName  map[string]*upstream // every pool
	routes  []Route              // longest prefix first
	trusted []netip.Prefix       // trusted_proxies

	rootFailing atomic.Bool // the document root could not be opened; logged once
	roots       rootCache   // the document root, kept open
	bufs        buffers     // request bodies and answers in memory and temp files

	connMu sync.Mutex
	conns  map[net.Conn]http.ConnState // client connections not idle-closed, for the drain
}

// upstream is one pool as the front passes to it.
type upstream struct {
	name   string
	client *fcgi.Client
	// access serves through pass and writes the pool's access line
	// unless the worker wrote it; nil without access_log.
	access http.Handler
	// scripts and exts are Pool.Scripts and Pool.Extensions.
	scripts bool
	exts    []string
	// statusPath and dashboardPath are the pool's pages a worker may
	// answer, which only pages_allow may see.
	statusPath, dashboardPath string
}

// LoadTLS reads the certificate and key the front serves HTTPS with.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("http: tls_cert/tls_key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// New makes the front for opts; Serve starts it.
func New(opts Options) *Server {
	opts.Pools = slices.Clone(opts.Pools) // s.pages points into it
	if opts.ServerName == "" {            // never the client's Host header
		opts.ServerName, _, _ = net.SplitHostPort(opts.Listener.Addr().String())
	}
	s := &Server{
		opts:    opts,
		log:     opts.Log,
		ln:      opts.Listener,
		byName:  map[string]*upstream{},
		trusted: opts.TrustedProxies,
	}
	for i := range opts.Pools {
		p := &opts.Pools[i]
		u := &upstream{name: p.Name, scripts: p.Scripts, exts: p.Extensions,
			statusPath: p.StatusPath, dashboardPath: p.DashboardPath, client: &fcgi.Client{
				Network: p.Network, Address: p.Address,
				DialTimeout:     opts.ConnectTimeout,
				MaxBufferedBody: opts.MaxBodyBytes,
				Dial:            p.Dial,
			}}
		if p.AccessLog != nil {
			u.access = p.AccessLog(http.HandlerFunc(s.pass), workerLogged)
		}
		s.byName[p.Name] = u
		if p.Name == opts.DefaultPool {
			s.pages = p
		}
	}
	s.def = s.byName[opts.DefaultPool]
	s.initBuffering()
	s.routes = slices.Clone(opts.Routes)
	slices.SortStableFunc(s.routes, func(a, b Route) int { return len(b.Prefix) - len(a.Prefix) })
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		TLSConfig:         opts.TLS,
		// net/http's own complaints (TLS handshakes, bad requests) go to
		// the log at debug level: a scanner must not flood it.
		ErrorLog:  stdlog.New(debugWriter{s.log}, "", 0),
		ConnState: s.track,
	}
	where := s.ln.Addr().String()
	if opts.TLS != nil {
		where = "https://" + where + " (TLS, HTTP/2)"
	}
	s.log.Info().Str("listen", s.ln.Addr().String()).Msgf("HTTP front listening on %s, default pool %s", where, opts.DefaultPool)
	return s
}

// debugWriter turns net/http's error log into debug lines.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Serve serves until Shutdown.
func (s *Server) Serve() {
	var err error
	if s.srv.TLSConfig != nil {
		err = s.srv.ServeTLS(s.ln, "", "") // HTTP/2 and HTTP/1.1 by ALPN
	} else {
		err = s.srv.Serve(s.ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		s.log.Error().Err(err).Msg("HTTP front stopped")
	}
}

// track counts the client connections that are new (accepted, no request
// read yet) or active (a request in flight), for the drain.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]http.ConnState{}
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	default:
		s.conns[c] = st
	}
}

// busy reports whether a connection has a request in flight, or was
// accepted and may still be sending its first one.
func (s *Server) busy(newToo bool) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for _, st := range s.conns {
		if st == http.StateActive || newToo && st == http.StateNew {
			return true
		}
	}
	return false
}

// drainNewFor is how long a drain waits for a connection accepted before
// the listener closed to send its first request.
const drainNewFor = 2 * time.Second

// Shutdown stops accepting; graceful lets requests in flight finish within
// timeout.
//
// The graceful path does not start with http.Server.Shutdown: a request
// that Shutdown finds half-read on a connection accepted an instant
// before is dropped without an answer (net/http returns from the
// connection once shutdown has begun). On a reload the listening socket
// lives on in the next master, and the clients whose connections this
// master accepted last must still get their answers. So: stop accepting,
// turn keep-alive off (each answer then says Connection: close, and idle
// connections are closed), wait until no connection is active or still
// new, and only then call Shutdown for what is left.
func (s *Server) Shutdown(graceful bool, timeout time.Duration) {
	defer s.bufs.close()
	defer s.roots.close()
	if !graceful {
		s.srv.Close()
		return
	}
	deadline := time.Now().Add(timeout)
	s.ln.Close()
	s.srv.SetKeepAlivesEnabled(false)
	newUntil := time.Now().Add(drainNewFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) && s.busy(time.Now().Before(newUntil)) {
		<-tick.C
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}
