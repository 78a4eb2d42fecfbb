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
	"path"
	"path/filepath"
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
	pool   *pool   // the default pool, whose status and ping pages the front answers itself
	pools  []*pool // every pool, for /metrics
	cfg    *HTTPConfig
	log    zerolog.Logger
	ln     net.Listener
	srv    *http.Server
	client *fcgi.Client
}

func newFront(cfg *Config, log zerolog.Logger, pools []*pool, inh inherited) (*front, error) {
	hc := cfg.HTTP
	pc := cfg.Pools[hc.DefaultPool]
	if pc == nil {
		return nil, errors.New("http: default_pool names no pool")
	}
	network, address, err := fcgi.ParseAddress(pc.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: default pool: %w", err)
	}
	var ln net.Listener
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
		cfg:    hc,
		log:    log.With().Str("component", "http").Logger(),
		ln:     ln,
		client: &fcgi.Client{Network: network, Address: address, DialTimeout: 5 * time.Second},
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
	params, err := fcgi.EnvFromRequest(r, fcgi.EnvOptions{
		DocumentRoot:   f.cfg.Root,
		ScriptName:     clean,
		ScriptFilename: filepath.Join(f.cfg.Root, filepath.FromSlash(clean)),
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
	resp, err := f.client.Do(r.Context(), &fcgi.Request{Params: params, Body: body, ContentLength: r.ContentLength})
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
