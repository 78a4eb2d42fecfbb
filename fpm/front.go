package fpm

// This file is the thin built-in HTTP front: each HTTP request becomes a
// FastCGI request to the default pool, with the params nginx's stock
// fastcgi_params sends.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fcgi"
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
	client  *fcgi.Client            // the default pool's; nil without a default pool
	clients map[string]*fcgi.Client // by pool name
	routes  []HTTPRoute             // longest prefix first
}

func newFront(cfg *Config, log zerolog.Logger, pools []*pool, inh inherited) (*front, error) {
	hc := cfg.HTTP
	if hc.DefaultPool == "" && len(hc.Routes) == 0 {
		return nil, errors.New("http: no default_pool and no route: the front would have nothing to serve")
	}
	clients := map[string]*fcgi.Client{}
	for _, name := range cfg.PoolOrder {
		network, address, err := fcgi.ParseAddress(cfg.Pools[name].Listen)
		if err != nil {
			return nil, fmt.Errorf("http: pool %q: %w", name, err)
		}
		clients[name] = &fcgi.Client{Network: network, Address: address, DialTimeout: 5 * time.Second}
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
	f := &front{
		cfg:     hc,
		log:     log.With().Str("component", "http").Logger(),
		ln:      ln,
		client:  clients[hc.DefaultPool],
		clients: clients,
		routes:  routes,
	}
	f.pools = pools
	for _, p := range pools {
		if p.cfg.Name == hc.DefaultPool {
			f.pool = p
		}
	}
	f.srv = &http.Server{
		Handler:           f,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	f.log.Info().Str("listen", ln.Addr().String()).Msgf("HTTP front listening on %s, default pool %s", ln.Addr(), hc.DefaultPool)
	return f, nil
}

func (f *front) serve() {
	if err := f.srv.Serve(f.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		f.log.Error().Err(err).Msg("HTTP front stopped")
	}
}

// shutdown stops accepting; graceful lets requests in flight finish within
// timeout.
func (f *front) shutdown(graceful bool, timeout time.Duration) {
	if !graceful {
		f.srv.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
	client := f.route(clean)
	if client == nil {
		http.NotFound(w, r)
		return
	}
	script, pathInfo, static := f.resolve(clean)
	if static != "" {
		http.ServeFile(w, r, static)
		return
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
	var body io.Reader = r.Body
	if r.ContentLength == 0 {
		body = nil // nothing to stream: no stdin goroutine in the client
	}
	resp, err := client.Do(r.Context(), &fcgi.Request{Params: params, Body: body, ContentLength: r.ContentLength})
	if err != nil {
		f.log.Error().Err(err).Str("uri", r.RequestURI).Msgf("upstream: %v", err)
		http.Error(w, "Bad Gateway", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
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
				return
			}
			if fl != nil && (pending == nil || pending.Buffered() == 0) {
				fl.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.log.Warn().Err(err).Str("uri", r.RequestURI).Msgf("upstream response cut: %v", err)
			panic(http.ErrAbortHandler) // the client must see a broken response, not a complete one
		}
	}
	if se := resp.Stderr(); len(se) > 0 {
		f.log.Warn().Str("uri", r.RequestURI).Msgf("FastCGI sent in stderr: %q", strings.TrimSpace(string(se)))
	}
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
func (f *front) route(clean string) *fcgi.Client {
	for _, rt := range f.routes {
		p := strings.TrimSuffix(rt.Prefix, "/")
		if clean == p || strings.HasPrefix(clean, p+"/") || p == "" {
			return f.clients[rt.Pool]
		}
	}
	return f.client
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
