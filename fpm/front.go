package fpm

// This file is the thin built-in HTTP front: each HTTP request becomes a
// FastCGI request to the default pool, with the params nginx's stock
// fastcgi_params sends.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker/proto"
	"github.com/rs/zerolog"
)

// serverSoftware is sent as SERVER_SOFTWARE.
const serverSoftware = "gofpm"

// copyBufs holds the buffers that carry response bodies, so a request does
// not allocate 32 KiB.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

type front struct {
	pool    *pool   // the default pool, whose status and ping pages the front answers itself
	pools   []*pool // every pool, for /metrics
	cfg     *HTTPConfig
	log     zerolog.Logger
	ln      net.Listener
	srv     *http.Server
	def     *upstream            // the default pool; nil without one
	byName  map[string]*upstream // every pool
	routes  []HTTPRoute          // longest prefix first
	trusted []netip.Prefix       // trusted_proxies

	connMu sync.Mutex
	conns  map[net.Conn]http.ConnState // client connections not idle-closed, for the drain
}

// upstream is one pool as the front sees it.
type upstream struct {
	name   string
	client *fcgi.Client
	pool   *pool
	// access serves through passTo and writes the pool's access line
	// unless the worker wrote it (Go workers answer the front with
	// proto.HeaderAccessLogged); nil without access_log.
	access http.Handler
}

// errReadTimeout ends a request whose worker sent no header within
// read_timeout.
var errReadTimeout = errors.New("no response header within read_timeout")

func newFront(cfg *Config, log zerolog.Logger, pools []*pool, inh inherited) (*front, error) {
	hc := cfg.HTTP
	if hc.DefaultPool == "" && len(hc.Routes) == 0 {
		return nil, errors.New("http: no default_pool and no route: the front would have nothing to serve")
	}
	f := &front{
		cfg:    hc,
		log:    log.With().Str("component", "http").Logger(),
		byName: map[string]*upstream{},
		pools:  pools,
	}
	for _, tp := range hc.TrustedProxies {
		pfx, err := parseTrusted(tp)
		if err != nil {
			return nil, fmt.Errorf("http: trusted_proxies: %w", err)
		}
		f.trusted = append(f.trusted, pfx)
	}
	for _, name := range cfg.PoolOrder {
		network, address, err := fcgi.ParseAddress(cfg.Pools[name].Listen)
		if err != nil {
			return nil, fmt.Errorf("http: pool %q: %w", name, err)
		}
		u := &upstream{name: name, client: &fcgi.Client{
			Network: network, Address: address,
			DialTimeout:     hc.ConnectTimeout.D(),
			MaxBufferedBody: int64(hc.MaxBodyBytes),
		}}
		for _, p := range pools {
			if p.cfg.Name == name {
				u.pool = p
			}
		}
		if u.pool != nil && u.pool.access != nil {
			al, err := proto.NewAccessLogger(u.pool.access, u.pool.cfg.AccessFormat, name)
			if err != nil {
				return nil, fmt.Errorf("http: pool %q: access_format: %w", name, err)
			}
			u.access = al.Wrap(http.HandlerFunc(f.pass), func(r *http.Request) bool {
				return r.Context().Value(frontReqKey{}).(*frontReq).logged
			})
		}
		f.byName[name] = u
	}
	f.def = f.byName[hc.DefaultPool]
	if f.def != nil {
		f.pool = f.def.pool
	}
	var tlsConfig *tls.Config
	if hc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(hc.TLSCert, hc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("http: tls_cert/tls_key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	routes := slices.Clone(hc.Routes)
	slices.SortStableFunc(routes, func(a, b HTTPRoute) int { return len(b.Prefix) - len(a.Prefix) })
	var ln net.Listener
	var err error
	sf := inh.take("http:"+hc.Listen, "http")
	if sf == nil {
		sf = inh.take(hc.Listen) // a systemd socket without a name
	}
	if sf != nil {
		ln, err = net.FileListener(sf)
		sf.Close()
	} else {
		ln, err = net.Listen("tcp", hc.Listen)
	}
	if err != nil {
		return nil, err
	}
	f.ln = ln
	f.routes = routes
	f.srv = &http.Server{
		Handler:           f,
		ReadHeaderTimeout: hc.ReadHeaderTimeout.D(),
		IdleTimeout:       hc.IdleTimeout.D(),
		MaxHeaderBytes:    int(hc.MaxHeaderBytes),
		TLSConfig:         tlsConfig,
		// net/http's own complaints (TLS handshakes, bad requests) go to
		// the log at debug level: a scanner must not flood it.
		ErrorLog:  stdlog.New(debugWriter{f.log}, "", 0),
		ConnState: f.track,
	}
	where := ln.Addr().String()
	if tlsConfig != nil {
		where = "https://" + where + " (TLS, HTTP/2)"
	}
	f.log.Info().Str("listen", ln.Addr().String()).Msgf("HTTP front listening on %s, default pool %s", where, hc.DefaultPool)
	return f, nil
}

// debugWriter turns net/http's error log into debug lines.
type debugWriter struct{ log zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (f *front) serve() {
	var err error
	if f.srv.TLSConfig != nil {
		err = f.srv.ServeTLS(f.ln, "", "") // HTTP/2 and HTTP/1.1 by ALPN
	} else {
		err = f.srv.Serve(f.ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		f.log.Error().Err(err).Msg("HTTP front stopped")
	}
}

// track counts the client connections that are new (accepted, no request
// read yet) or active (a request in flight), for the drain.
func (f *front) track(c net.Conn, st http.ConnState) {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	if f.conns == nil {
		f.conns = map[net.Conn]http.ConnState{}
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(f.conns, c)
	default:
		f.conns[c] = st
	}
}

// busy reports whether a connection has a request in flight, or was
// accepted and may still be sending its first one.
func (f *front) busy(newToo bool) bool {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	for _, st := range f.conns {
		if st == http.StateActive || newToo && st == http.StateNew {
			return true
		}
	}
	return false
}

// drainNewFor is how long a drain waits for a connection accepted before
// the listener closed to send its first request.
const drainNewFor = 2 * time.Second

// shutdown stops accepting; graceful lets requests in flight finish within
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
func (f *front) shutdown(graceful bool, timeout time.Duration) {
	if !graceful {
		f.srv.Close()
		return
	}
	deadline := time.Now().Add(timeout)
	f.ln.Close()
	f.srv.SetKeepAlivesEnabled(false)
	newUntil := time.Now().Add(drainNewFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) && f.busy(time.Now().Before(newUntil)) {
		<-tick.C
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		f.srv.Close()
	}
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	clean := path.Clean("/" + r.URL.Path)
	if clean == metricsPath {
		f.serveMetrics(w)
		return
	}
	if p := f.pool; p != nil && clean != "/" && (clean == p.cfg.PMStatusPath || clean == p.cfg.PingPath) {
		f.servePage(w, r, clean)
		return
	}
	if clean == f.dashboardPath() {
		f.serveDashboard(w, r)
		return
	}
	u := f.route(clean)
	if u == nil {
		http.NotFound(w, r)
		return
	}
	// The client behind a trusted proxy, before the access log sees r.
	remote, https := f.clientOf(r)
	if remote != "" {
		r2 := *r
		r2.RemoteAddr = remote
		r = &r2
	}
	if u.access != nil {
		fr := &frontReq{u: u, clean: clean, https: https}
		u.access.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), frontReqKey{}, fr)))
		return
	}
	fr := frontReq{u: u, clean: clean, https: https}
	f.passTo(w, r, &fr)
}

// frontReq is what ServeHTTP learnt of a request, for passTo; it rides in
// the request's context through the access-log wrapper.
type frontReq struct {
	u      *upstream
	clean  string // the cleaned URL path
	https  bool   // a trusted proxy said the client used https
	logged bool   // the worker wrote the access line
}

type frontReqKey struct{}

// pass is passTo for a request that went through the access-log wrapper.
func (f *front) pass(w http.ResponseWriter, r *http.Request) {
	f.passTo(w, r, r.Context().Value(frontReqKey{}).(*frontReq))
}

// passTo serves r from a static file under root or from the pool behind
// fr.u; fr learns whether the worker wrote the access line.
func (f *front) passTo(w http.ResponseWriter, r *http.Request, fr *frontReq) {
	u := fr.u
	script, pathInfo, static := f.resolve(fr.clean)
	if static != "" {
		http.ServeFile(w, r, static)
		return
	}
	if r.ContentLength > int64(f.cfg.MaxBodyBytes) {
		w.Header().Set("Connection", "close")
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	if r.ContentLength < 0 { // chunked: the client buffers it, up to MaxBufferedBody
		r.Body = http.MaxBytesReader(w, r.Body, int64(f.cfg.MaxBodyBytes))
	}
	params, err := fcgi.EnvFromRequest(r, fcgi.EnvOptions{
		DocumentRoot:   f.cfg.Root,
		ScriptName:     script,
		ScriptFilename: filepath.Join(f.cfg.Root, filepath.FromSlash(script)),
		PathInfo:       pathInfo,
		ServerSoftware: serverSoftware,
	})
	if err != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	if fr.https {
		params["HTTPS"] = "on"
		params["REQUEST_SCHEME"] = "https"
	}
	params["HTTP_X_GOFPM_FRONT"] = "1" // proto.HeaderFront, the client's own dropped

	// The request's context ends when the client goes away: the client
	// then aborts the FastCGI request and closes the connection, so the
	// worker's handler sees its context cancelled. read_timeout cancels it
	// too while no header has arrived; like nginx's fastcgi_read_timeout it
	// counts from the last byte of the request body sent, not from the
	// start of a slow upload.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	rt := f.cfg.ReadTimeout.D()
	timer := time.AfterFunc(rt, func() { cancel(errReadTimeout) })
	var pr *progressReader
	var body io.Reader
	if r.ContentLength != 0 {
		pr = &progressReader{r: r.Body, t: timer, d: rt}
		body = pr
	} // else nothing to stream: no stdin goroutine in the client
	resp, err := u.client.Do(ctx, &fcgi.Request{Params: params, Body: body, ContentLength: r.ContentLength})
	if !pr.stop(timer) && err == nil && context.Cause(ctx) == errReadTimeout {
		resp.Body.Close() // the header came as the timer fired: too late
		err = errReadTimeout
	}
	if err != nil {
		f.upstreamError(w, r, u, ctx, err)
		return
	}
	defer resp.Body.Close()
	if _, ok := resp.Header[proto.HeaderAccessLogged]; ok {
		delete(resp.Header, proto.HeaderAccessLogged)
		fr.logged = true
	}
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	// Stream record by record: flush whenever nothing more has arrived from
	// the worker, so server-sent events and long polls are not held back,
	// while a short response still goes out in one write with its
	// Content-Length.
	fl, _ := w.(http.Flusher)
	pending, _ := resp.Body.(interface{ Buffered() int })
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client is gone; closing the body closes the FastCGI connection
			}
			if fl != nil && (pending == nil || pending.Buffered() == 0) {
				fl.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.Context().Err() == nil {
				f.log.Warn().Err(err).Str("pool", u.name).Str("uri", r.RequestURI).Msgf("upstream response cut: %v", err)
			}
			panic(http.ErrAbortHandler) // the client must see a broken response, not a complete one
		}
	}
	if se := resp.Stderr(); len(se) > 0 {
		f.log.Warn().Str("pool", u.name).Str("uri", r.RequestURI).Msgf("FastCGI sent in stderr: %q", strings.TrimSpace(string(se)))
	}
}

// progressReader is a request body that pushes read_timeout back each
// time the client sends more of it, until the response header is there
// (the body may still stream after it; the timer must stay stopped).
type progressReader struct {
	r       io.Reader
	t       *time.Timer
	d       time.Duration
	mu      sync.Mutex
	stopped bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.mu.Lock()
		if !p.stopped {
			p.t.Reset(p.d)
		}
		p.mu.Unlock()
	}
	return n, err
}

// stop stops the timer t (p's, or the one of a request without a body
// when p is nil) for good; false if it had fired.
func (p *progressReader) stop(t *time.Timer) bool {
	if p == nil {
		return t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	return p.t.Stop()
}

// upstreamError answers a request whose worker could not be asked or sent
// no header: 413 for a body over max_body_bytes, 400 for a body the client
// could not send, 504 for a timeout, nothing for a client that left
// (nginx's 499), 503 when the pool refuses, else 502.
func (f *front) upstreamError(w http.ResponseWriter, r *http.Request, u *upstream, ctx context.Context, err error) {
	var mbe *http.MaxBytesError
	code := http.StatusBadGateway
	var ne net.Error
	switch {
	case errors.Is(err, fcgi.ErrBodyTooLarge) || errors.As(err, &mbe):
		w.Header().Set("Connection", "close")
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	case r.Context().Err() != nil:
		f.log.Debug().Str("pool", u.name).Str("uri", r.RequestURI).Msg("client closed the connection before the response (499)")
		w.WriteHeader(499) // nginx's status for it: nobody reads it, the access line does
		return
	case strings.Contains(err.Error(), "reading request body"):
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	case context.Cause(ctx) == errReadTimeout:
		code = http.StatusGatewayTimeout
		err = fmt.Errorf("%w (%s)", errReadTimeout, f.cfg.ReadTimeout.D())
	case errors.As(err, &ne) && ne.Timeout():
		code = http.StatusGatewayTimeout
	case errors.Is(err, fcgi.ErrOverloaded):
		code = http.StatusServiceUnavailable
	}
	f.log.Error().Err(err).Str("pool", u.name).Str("uri", r.RequestURI).Int("status", code).Msgf("upstream: %v", err)
	http.Error(w, http.StatusText(code), code)
}

// clientOf returns the client's address when r came through a trusted
// proxy ("" to keep r.RemoteAddr), and whether that proxy said the client
// used https.
func (f *front) clientOf(r *http.Request) (remote string, https bool) {
	if len(f.trusted) == 0 {
		return "", false
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !f.isTrusted(peer.Addr()) {
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
		if !f.isTrusted(a) {
			break
		}
	}
	return remote, https
}

func (f *front) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseTrusted reads one trusted_proxies entry: an address or a prefix.
func parseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// servePage answers the default pool's status or ping page from the master,
// so it answers even when every worker is busy.
func (f *front) servePage(w http.ResponseWriter, r *http.Request, name string) {
	res := f.pool.page(map[string]string{
		"REQUEST_METHOD": r.Method, "SCRIPT_NAME": name, "SCRIPT_FILENAME": name,
		"QUERY_STRING": r.URL.RawQuery,
	}, time.Now())
	for _, line := range res.header {
		if k, v, ok := strings.Cut(line, ":"); ok {
			w.Header().Add(k, strings.TrimSpace(v)) // canonical case: net/http looks for Content-Type
		}
	}
	if res.status == 0 {
		res.status = http.StatusOK
	}
	w.WriteHeader(res.status)
	w.Write(res.body)
}

// serveMetrics answers /metrics with every pool's metrics.
func (f *front) serveMetrics(w http.ResponseWriter) {
	var reports []*poolReport
	for _, p := range f.pools {
		if r := p.askReport(); r != nil {
			reports = append(reports, r)
		}
	}
	w.Header().Set("Content-Type", metricsContentType)
	writeMetrics(w, sortedReports(reports))
}

// route picks the pool for a path: the longest [[http.route]] prefix that
// matches at a path boundary, else default_pool; nil when neither.
func (f *front) route(clean string) *upstream {
	for _, rt := range f.routes {
		p := strings.TrimSuffix(rt.Prefix, "/")
		if clean == p || strings.HasPrefix(clean, p+"/") || p == "" {
			return f.byName[rt.Pool]
		}
	}
	return f.def
}

// resolve maps a clean request path onto the document root, as nginx's
// try_files and fastcgi_split_path_info do: an existing file that is not a
// script is served as a file (static); a directory with an index file runs
// the index; a path that continues past a script file (/a.php/x) runs the
// script with PATH_INFO /x. Without [http] root every path goes to the pool
// as it is.
func (f *front) resolve(clean string) (script, pathInfo, static string) {
	if f.cfg.Root == "" {
		return clean, "", ""
	}
	full := filepath.Join(f.cfg.Root, filepath.FromSlash(clean))
	if fi, err := os.Stat(full); err == nil {
		if fi.IsDir() {
			for _, idx := range f.cfg.Index {
				if st, err := os.Stat(filepath.Join(full, idx)); err == nil && st.Mode().IsRegular() {
					return path.Join(clean, idx), "", ""
				}
			}
			return clean, "", ""
		}
		if fi.Mode().IsRegular() && !f.isScript(clean) {
			return "", "", full
		}
		return clean, "", ""
	}
	// PATH_INFO: the longest leading part that is an existing script file.
	// The split happens on "/" boundaries of a cleaned path (no newline can
	// reach here: EnvFromRequest refuses control characters), so the
	// CVE-2019-11043 trick of an empty PATH_INFO through "%0a" does not apply.
	for i := len(clean) - 1; i > 0; i-- {
		if clean[i] != '/' {
			continue
		}
		head := clean[:i]
		if !f.isScript(head) {
			continue
		}
		if st, err := os.Stat(filepath.Join(f.cfg.Root, filepath.FromSlash(head))); err == nil && st.Mode().IsRegular() {
			return head, clean[i:], ""
		}
	}
	return clean, "", ""
}

// isScript reports whether a path names a script for the pools rather than
// a file to serve: .php, or an extension in any pool's
// security_limit_extensions.
func (f *front) isScript(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	if ext == ".php" {
		return true
	}
	for _, pl := range f.pools {
		if slices.Contains(pl.cfg.SecurityLimitExtensions, ext) {
			return true
		}
	}
	return false
}
