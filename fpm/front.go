package fpm

// This file is the glue between the master and the HTTP front
// (internal/front): it listens (or takes the inherited socket), turns the
// [http] config into the front's options and each pool into what the front
// needs of it: where it listens, its access logger and its own pages.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	httpfront "github.com/gofpm/gofpm/fpm/internal/front"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/gofpm/gofpm/worker/proto"
	"github.com/rs/zerolog"
)

// front is the HTTP front as the master drives it.
type front struct {
	srv *httpfront.Server
	ln  net.Listener // the front's listener, handed over on a reload
}

func (f *front) serve() { f.srv.Serve() }

// shutdown stops accepting; graceful lets requests in flight finish within
// timeout.
func (f *front) shutdown(graceful bool, timeout time.Duration) { f.srv.Shutdown(graceful, timeout) }

// newFront serves cfg's [http] on ln, which the master's socket set gave,
// with metrics as its /metrics page.
func newFront(cfg *config.Config, log zerolog.Logger, pools []*pool, ln net.Listener, metrics http.Handler) (*front, error) {
	hc := cfg.HTTP
	if hc.DefaultPool == "" && len(hc.Routes) == 0 {
		return nil, errors.New("http: no default_pool and no route: the front would have nothing to serve")
	}
	opts := httpfront.Options{
		Log:               log.With().Str("component", "http").Logger(),
		DefaultPool:       hc.DefaultPool,
		Root:              hc.Root,
		Index:             hc.Index,
		ReadHeaderTimeout: hc.ReadHeaderTimeout.D(),
		IdleTimeout:       hc.IdleTimeout.D(),
		ConnectTimeout:    hc.ConnectTimeout.D(),
		ReadTimeout:       hc.ReadTimeout.D(),
		MaxHeaderBytes:    int(hc.MaxHeaderBytes),
		MaxBodyBytes:      int64(hc.MaxBodyBytes),
	}
	opts.TrustedProxies = hc.TrustedPrefixes
	// The front as a PHP host (docs/security.md).
	opts.ServerName, opts.PagesAllow = hc.ServerName, hc.PagesAllowPrefixes
	opts.ServeDotfiles, opts.FollowSymlinksOutsideRoot = hc.ServeDotfiles, hc.FollowSymlinksOutsideRoot
	if hc.MetricsPath != "" {
		opts.Metrics, opts.MetricsPath = metrics, hc.MetricsPath
	}
	opts.Buffering = httpfront.Buffering{
		BodyBufferSize: int64(hc.BodyBufferSize), AnswerBufferSize: int64(hc.AnswerBufferSize),
		BufferMemory: int64(hc.BufferMemory), TempDir: hc.TempDir,
		BodyTimeout: hc.BodyTimeout.D(), SendTimeout: hc.SendTimeout.D(), RequestTimeout: hc.RequestTimeout.D(),
		MaxConnections: hc.MaxConnections,
	}
	for _, rt := range hc.Routes {
		opts.Routes = append(opts.Routes, httpfront.Route{Prefix: rt.Prefix, Pool: rt.Pool})
	}
	for _, p := range pools {
		opts.ScriptExtensions = append(opts.ScriptExtensions, p.cfg.SecurityLimitExtensions...)
	}
	for _, name := range cfg.PoolOrder {
		pc := cfg.Pools[name]
		fp := httpfront.Pool{Name: name, Network: pc.ListenAddr.Network, Address: pc.ListenAddr.Dial,
			Scripts: pc.RunsScripts(), Extensions: pc.ScriptExtensions()}
		for _, p := range pools {
			if p.cfg.Name == name {
				if err := p.frontPool(&fp); err != nil {
					return nil, err
				}
			}
		}
		opts.Pools = append(opts.Pools, fp)
	}
	if hc.TLSCert != "" {
		tc, err := httpfront.LoadTLS(hc.TLSCert, hc.TLSKey)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	opts.Listener = ln
	return &front{srv: httpfront.New(opts), ln: ln}, nil
}

// frontPool fills in what the front needs of p besides its address: the
// access logger and the pool's own pages.
func (p *pool) frontPool(fp *httpfront.Pool) error {
	if p.access != nil && p.disp == nil { // dispatch = "master": the dispatcher writes the lines
		al, err := proto.NewAccessLogger(p.access, p.cfg.AccessFormat, p.cfg.Name)
		if err != nil {
			return fmt.Errorf("http: pool %q: access_format: %w", p.cfg.Name, err)
		}
		al.Suppress(p.cfg.AccessSuppressPath)
		fp.AccessLog = al.Wrap
	}
	fp.StatusPath, fp.PingPath = p.cfg.PMStatusPath, p.cfg.PingPath
	if p.disp != nil {
		fp.Dial = p.disp.dialInProcess
	}
	fp.Page = func(params map[string]string, now time.Time) (int, []string, []byte) {
		r := p.page(params, now)
		return r.status, r.header, r.body
	}
	if fp.DashboardPath = status.DashboardPath(p.cfg.PMStatusPath); fp.DashboardPath != "" {
		fp.Dashboard = &status.Dashboard{
			Pool: p.cfg.Name, PM: p.cfg.PM, StatusPath: p.cfg.PMStatusPath,
			MaxChildren: p.cfg.PMMaxChildren, MaxRequests: p.cfg.PMMaxRequests,
			StartServers: p.cfg.PMStartServers, MinSpareServers: p.cfg.PMMinSpareServers, MaxSpareServers: p.cfg.PMMaxSpareServers,
			RequestSlowlogTimeout:   p.cfg.RequestSlowlogTimeout.D(),
			RequestTerminateTimeout: p.cfg.RequestTerminateTimeout.D(),
		}
	}
	return nil
}
