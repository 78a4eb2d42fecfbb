package fpm

// This file serves the master's Prometheus page: it gathers every pool's
// report, the master's own process and Go runtime figures and the build
// info into a status.Exposition, for the HTTP front's /metrics and for the
// metrics_listen server, a small HTTP server of its own for the layouts
// without a front (nginx, systemd, Kubernetes).

import (
	"errors"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/connlimit"
	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/rs/zerolog"
)

// metricsSource gathers the metrics page of one master.
type metricsSource struct {
	pools    []*pool
	failures []atomic.Uint64 // scrapes each pool did not answer, by index in pools
	version  string
}

func newMetricsSource(pools []*pool, version string) *metricsSource {
	return &metricsSource{pools: pools, failures: make([]atomic.Uint64, len(pools)), version: version}
}

// gather asks every pool for its report and reads the master's figures.
func (s *metricsSource) gather(now time.Time) *status.Exposition {
	e := &status.Exposition{Now: now, Build: status.BuildInfo{Version: s.version, GoVersion: runtime.Version()}}
	for i, p := range s.pools {
		pm := &status.PoolMetrics{Pool: p.cfg.Name, ScrapeURI: scrapeURI(p.cfg)}
		if r := p.askReport(); r != nil {
			pm.Status, pm.MaxChildren, pm.Failing = r.status, r.maxChildren, r.failing
			pm.Spawned, pm.Recycled, pm.Hist = r.count.spawned, r.count.recycled, r.hist
			pm.Dispatch = r.disp
		} else {
			s.failures[i].Add(1)
		}
		pm.ScrapeFailures = s.failures[i].Load()
		e.Pools = append(e.Pools, pm)
	}
	if u, err := procfs.ReadSelfUsage(); err == nil {
		e.Process = &status.ProcessStats{CPU: u.CPU, Start: u.Start, RSS: u.RSS, VSize: u.VSize,
			MaxVSize: u.MaxVSize, OpenFDs: u.OpenFDs, MaxFDs: u.MaxFDs}
	}
	e.Go = goStats()
	return e
}

// handler answers GET and HEAD with the page.
func (s *metricsSource) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", status.MetricsContentType)
		w.Header().Set("Cache-Control", "no-store")
		status.WriteMetrics(w, s.gather(time.Now()))
	})
}

// scrapeURI is where hipages/php-fpm_exporter would scrape pc's status
// page, in its --phpfpm.scrape-uri syntax: the pm_status_listen socket if
// there is one, else the pool's own; with the status path ("" when the
// pool has none).
func scrapeURI(pc *config.Pool) string {
	a := pc.StatusAddr
	if a.Network == "" {
		a = pc.ListenAddr
	}
	if a.Network == "unix" {
		u := "unix://" + a.Address
		if pc.PMStatusPath != "" {
			u += ";" + pc.PMStatusPath
		}
		return u
	}
	return "tcp://" + a.Dial + pc.PMStatusPath
}

// goStats reads the Go runtime's figures (ReadMemStats stops the world
// for a few microseconds: once per scrape).
func goStats() *status.GoStats {
	g := &status.GoStats{Goroutines: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	g.Threads, _ = runtime.ThreadCreateProfile(nil)
	runtime.ReadMemStats(&g.Mem)
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	g.GCCount, g.GCPauseSum, g.LastGC = uint64(gc.NumGC), gc.PauseTotal, gc.LastGC
	copy(g.GCQuantiles[:], gc.PauseQuantiles)
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(samples)
	if samples[0].Value.Kind() == metrics.KindUint64 {
		g.GOGC = int64(samples[0].Value.Uint64())
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		g.MemLimit = int64(samples[1].Value.Uint64())
	}
	return g
}

// metricsMaxConns caps the connections metrics_listen keeps open.
const metricsMaxConns = 64

// metricsServer is metrics_listen: /metrics and nothing else.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// newMetricsServer listens on addr (or takes the socket a previous master
// handed over, or systemd's named "metrics").
func newMetricsServer(socks *sockets.Set, addr config.Addr, src *metricsSource, log zerolog.Logger) (*metricsServer, error) {
	ln, fd, err := socks.GoListener(sockets.Spec{Network: "tcp", Address: addr.Address, Key: "metrics:" + addr.Address,
		Names: []string{"metrics"}, Aliases: []string{addr.Address}})
	if err != nil {
		return nil, err
	}
	if fd >= 0 {
		log.Info().Msgf("using inherited socket fd=%d, %q", fd, addr.Address)
	}
	// Scrapers are few: past metricsMaxConns open connections the rest
	// wait in the listen queue, so clients that connect and stay cannot
	// use up the master's file descriptors.
	ln = connlimit.New(ln, metricsMaxConns, "metrics_listen: connections", log)
	mux := http.NewServeMux()
	mux.Handle("/metrics", src.handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found: the metrics are at /metrics", http.StatusNotFound)
	})
	s := &metricsServer{ln: ln, done: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}}
	log.Info().Str("listen", ln.Addr().String()).Msgf("metrics listening on %s (/metrics)", ln.Addr())
	return s, nil
}

// serve serves until close; an accept error other than the close ends it
// with a log line.
func (s *metricsServer) serve(log zerolog.Logger) {
	defer close(s.done)
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn().Err(err).Msgf("metrics listener: %v", err)
	}
}

// close stops the server once serve runs; a scrape in flight is cut (the
// next scrape goes to the master that took over).
func (s *metricsServer) close() {
	s.srv.Close()
	<-s.done
}
