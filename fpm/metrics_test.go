package fpm

import (
	"sync"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/rs/zerolog"
)

// TestMetricsAndHeartbeatOfPools: what the metrics page and the systemd
// heartbeat make of three pools on fakes: one serving (up, counted), one
// whose worker failed at start (answers, not up), one whose loop does not
// answer (not up, a scrape failure, and no WATCHDOG=1 for the master).
func TestMetricsAndHeartbeatOfPools(t *testing.T) {
	ok := startLoop(t, &config.Pool{Name: "ok", PM: "static", PMMaxChildren: 2, ListenAddr: config.Addr{Network: "unix", Address: "/run/ok.sock"}, PMStatusPath: "/status"})
	ok.wantSpawns(2, "at start")
	ok.probe.setAll(kIdle)
	ok.clk.advance(t, 20*time.Millisecond)

	failing := startLoop(t, &config.Pool{Name: "failing", PM: "static", PMMaxChildren: 1, ListenAddr: config.Addr{Network: "tcp", Address: ":9000", Dial: "127.0.0.1:9000"}})
	failing.wantSpawns(1, "at start")
	failing.exit(failing.sp.spawns()[0], exitCode(1))
	failing.wantLog("children keep failing at start")

	hung, err := makePool(&config.Pool{Name: "hung", PM: "static", PMMaxChildren: 1}, &config.Config{}, zerolog.Nop(), nil, &fakeSpawner{}, newFakeClock(loopT0))
	if err != nil {
		t.Fatal(err)
	}
	// never run: its loop answers nothing

	m := &Master{pools: []*pool{ok.p, failing.p, hung}}
	src := newMetricsSource(m.pools, "v1")
	var (
		wg     sync.WaitGroup
		e      *status.Exposition
		totals heartbeatTotals
		all    bool
	)
	wg.Go(func() { e = src.gather(time.Now()) })
	wg.Go(func() { totals, all = m.heartbeatTotals() })
	wg.Wait() // both wait once for the hung pool (2 s)

	if all || totals.idle != 2 || totals.active != 0 {
		t.Errorf("heartbeat totals %+v, all answered %v; want 2 idle and not all answered", totals, all)
	}
	byName := map[string]*status.PoolMetrics{}
	for _, p := range e.Pools {
		byName[p.Pool] = p
	}
	if p := byName["ok"]; !p.Up() || p.ScrapeFailures != 0 || p.ScrapeURI != "unix:///run/ok.sock;/status" || p.Status.Idle != 2 {
		t.Errorf("pool ok: up %v, %+v", p.Up(), p)
	}
	if p := byName["failing"]; p.Up() || !p.Failing || p.Status == nil || p.ScrapeURI != "tcp://127.0.0.1:9000" {
		t.Errorf("pool failing: up %v, %+v", p.Up(), p)
	}
	if p := byName["hung"]; p.Up() || p.Status != nil || p.ScrapeFailures != 1 {
		t.Errorf("pool hung: up %v, %+v", p.Up(), p)
	}
	if e.Build.Version != "v1" || e.Process == nil || e.Go == nil || e.Go.Goroutines == 0 {
		t.Errorf("build %+v, process %+v, go %v", e.Build, e.Process, e.Go)
	}

	m = &Master{pools: []*pool{ok.p, failing.p}}
	if totals, all = m.heartbeatTotals(); !all || totals.idle != 2 {
		t.Errorf("without the hung pool: totals %+v, all answered %v", totals, all)
	}
}
