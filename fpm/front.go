package fpm

// This file is the thin built-in HTTP front: each HTTP request becomes a
// FastCGI request to the default pool, with the params nginx's stock
// fastcgi_params sends.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/rs/zerolog"
)

// serverSoftware is sent as SERVER_SOFTWARE.
const serverSoftware = "gofpm"

type front struct {
	cfg    *HTTPConfig
	log    zerolog.Logger
	ln     net.Listener
	srv    *http.Server
	client *fcgi.Client
}

func newFront(cfg *Config, log zerolog.Logger) (*front, error) {
	hc := cfg.HTTP
	pc := cfg.Pools[hc.DefaultPool]
	if pc == nil {
		return nil, errors.New("http: default_pool names no pool")
	}
	network, address := "tcp", pc.Listen
	if pc.IsUnix() {
		network = "unix"
	}
	ln, err := net.Listen("tcp", hc.Listen)
	if err != nil {
		return nil, err
	}
	f := &front{
		cfg:    hc,
		log:    log.With().Str("component", "http").Logger(),
		ln:     ln,
		client: &fcgi.Client{Network: network, Address: address, DialTimeout: 5 * time.Second},
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
	resp, err := f.client.Do(r.Context(), &fcgi.Request{Params: params, Body: r.Body, ContentLength: r.ContentLength})
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
	// Stream record by record: flush after every read so server-sent events
	// and long polls are not held back.
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if fl != nil {
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
