//go:build linux

package fpm

// In-process tests of pool.run: the pool is given a fake spawner (it
// records spawns and signals; the test reports exits on the pool's exits
// channel, as the real waiter does), a probe with scripted worker states
// and a clock the test advances. Nothing sleeps: every step is a message
// to the loop, and the test waits on its results with deadlines.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/kstate"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// loopDeadline bounds every wait on the loop.
const loopDeadline = 10 * time.Second

// fakeClock fires its timers only when the test advances it, in time
// order, handing each tick to the loop before it looks for the next.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[*fakeTimer]bool
	settle func() // called after each tick the loop received
}

type fakeTimer struct {
	clk    *fakeClock
	at     time.Time
	seq    int
	period time.Duration
	c      chan time.Time
	stop   chan struct{}
	once   sync.Once
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, timers: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d, period time.Duration) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{clk: c, at: c.now.Add(d), seq: c.seq, period: period, c: make(chan time.Time), stop: make(chan struct{})}
	c.timers[t] = true
	return t
}

func (c *fakeClock) NewTimer(d time.Duration) timer  { return c.add(d, 0) }
func (c *fakeClock) NewTicker(d time.Duration) timer { return c.add(d, d) }

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() {
	t.once.Do(func() {
		close(t.stop)
		t.clk.mu.Lock()
		delete(t.clk.timers, t)
		t.clk.mu.Unlock()
	})
}

// advance moves the clock by d, firing every timer due on the way at its
// own time; it returns when the loop has handled the last of them.
func (c *fakeClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for tm := range c.timers {
			if tm.at.After(target) {
				continue
			}
			if next == nil || tm.at.Before(next.at) || (tm.at.Equal(next.at) && tm.seq < next.seq) {
				next = tm
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		at := next.at
		c.now = at
		if next.period > 0 {
			next.at = at.Add(next.period)
		} else {
			delete(c.timers, next)
		}
		c.mu.Unlock()
		select {
		case next.c <- at:
			if c.settle != nil {
				c.settle()
			}
		case <-next.stop:
		case <-time.After(loopDeadline):
			t.Fatalf("the loop did not take the tick of %s", at.Format(time.StampMilli))
		}
	}
}

// fakeSpawner records what the pool asks of its workers.
type fakeSpawner struct {
	mu      sync.Mutex
	clk     clock
	nextPID int
	spawned []int
	signals []sentSignal
	exits   chan<- childExit
	fail    int // fail this many starts
}

type sentSignal struct {
	pid int
	sig unix.Signal
	at  time.Time
}

func (s *fakeSpawner) start(maxRequests int, access *os.File, exits chan<- childExit) (*child, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return nil, fmt.Errorf("scripted failure")
	}
	s.nextPID++
	pid := 1000 + s.nextPID
	s.spawned = append(s.spawned, pid)
	s.exits = exits
	now := s.clk.Now()
	return &child{pid: pid, started: now, since: now}, nil
}

func (s *fakeSpawner) signal(pid int, sig unix.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, sentSignal{pid, sig, s.clk.Now()})
	return nil
}

func (s *fakeSpawner) spawns() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.spawned)
}

func (s *fakeSpawner) sent() []sentSignal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signals)
}

// fakeProbe answers with the states the test scripts; a pid without one
// is not seen (it stays "starting").
type fakeProbe struct {
	mu     sync.Mutex
	states map[int]kstate.Worker
	all    *kstate.Worker // every pid asked about, unless states has it
}

func (f *fakeProbe) set(pid int, w kstate.Worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[pid] = w
}

func (f *fakeProbe) setAll(w kstate.Worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = &w
}

func (f *fakeProbe) Snapshot(pids []int) (map[int]kstate.Worker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]kstate.Worker{}
	for _, pid := range pids {
		if w, ok := f.states[pid]; ok {
			out[pid] = w
		} else if f.all != nil {
			w := *f.all
			if w.Busy {
				w.Conn = uint64(pid) // one connection per worker
			}
			out[pid] = w
		}
	}
	return out, nil
}

func (f *fakeProbe) ListenQueue() (int, int, error) { return 0, 128, nil }
func (f *fakeProbe) Readable() bool                 { return false }
func (f *fakeProbe) Close() error                   { return nil }

var (
	kIdle = kstate.Worker{Wait: kstate.WaitAccept}
	kBusy = kstate.Worker{Busy: true, Wait: kstate.WaitRunning}
)

// loopTest is one pool running on fakes.
type loopTest struct {
	t     *testing.T
	p     *pool
	sp    *fakeSpawner
	clk   *fakeClock
	probe *fakeProbe
	log   *notifyLog
	exits map[int]bool
}

var loopT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func startLoop(t *testing.T, pc *config.Pool) *loopTest {
	t.Helper()
	if pc.Name == "" {
		pc.Name = "www"
	}
	clk := newFakeClock(loopT0)
	sp := &fakeSpawner{clk: clk}
	logs := newNotifyLog()
	g := &config.Config{ProcessControlTimeout: config.Duration(10 * time.Second)}
	p, err := makePool(pc, g, zerolog.New(logs).Level(zerolog.DebugLevel), nil, sp, clk)
	if err != nil {
		t.Fatal(err)
	}
	probe := &fakeProbe{states: map[int]kstate.Worker{}}
	p.probe = probe
	lt := &loopTest{t: t, p: p, sp: sp, clk: clk, probe: probe, log: logs, exits: map[int]bool{}}
	clk.settle = lt.sync
	go p.run()
	t.Cleanup(lt.end)
	lt.sync()
	return lt
}

// sync returns once the loop has handled everything before it: the loop
// takes one message at a time, and the clock's ticks are handed over
// synchronously.
func (lt *loopTest) sync() { lt.report() }

// report asks the loop for its report.
func (lt *loopTest) report() *poolReport {
	lt.t.Helper()
	reply := make(chan *poolReport, 1)
	select {
	case lt.p.statusC <- reply:
	case <-lt.p.done:
		return nil
	case <-time.After(loopDeadline):
		lt.t.Fatal("the pool loop does not answer")
	}
	select {
	case r := <-reply:
		return r
	case <-time.After(loopDeadline):
		lt.t.Fatal("the pool loop does not answer")
	}
	return nil
}

// exit reports pid's exit at the clock's time and waits until the loop
// has reaped it.
func (lt *loopTest) exit(pid int, ws syscall.WaitStatus) {
	lt.t.Helper()
	lt.exits[pid] = true
	lt.p.exits <- childExit{pid: pid, status: ws, known: true, at: lt.clk.Now()}
	deadline := time.Now().Add(loopDeadline)
	for time.Now().Before(deadline) {
		r := lt.report()
		if r == nil || !slices.ContainsFunc(r.status.Procs, func(pr status.Proc) bool { return pr.PID == pid }) {
			return
		}
	}
	lt.t.Fatalf("child %d was not reaped", pid)
}

// end stops the pool fast and reports the exit of every worker left.
func (lt *loopTest) end() {
	select {
	case <-lt.p.done:
		return
	default:
	}
	go func() {
		select {
		case lt.p.stopC <- stopReq{done: make(chan struct{})}:
		case <-lt.p.done:
		}
	}()
	deadline := time.Now().Add(loopDeadline)
	for time.Now().Before(deadline) {
		r := lt.report()
		if r == nil {
			return
		}
		for _, pr := range r.status.Procs {
			if !lt.exits[pr.PID] {
				lt.exits[pr.PID] = true
				lt.p.exits <- childExit{pid: pr.PID, status: exitSignal(unix.SIGTERM), known: true, at: lt.clk.Now()}
			}
		}
	}
	lt.t.Error("the pool did not stop")
}

// waitFor asks the loop until cond holds.
func (lt *loopTest) waitFor(what string, cond func() bool) {
	lt.t.Helper()
	deadline := time.Now().Add(loopDeadline)
	for time.Now().Before(deadline) {
		lt.sync()
		if cond() {
			return
		}
	}
	lt.t.Fatalf("never: %s", what)
}

func exitCode(code int) syscall.WaitStatus          { return syscall.WaitStatus(code << 8) }
func exitSignal(sig unix.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }

func (lt *loopTest) wantSpawns(n int, when string) {
	lt.t.Helper()
	if got := lt.sp.spawns(); len(got) != n {
		lt.t.Fatalf("%s: %d spawns, want %d", when, len(got), n)
	}
}

func (lt *loopTest) wantLog(s string) {
	lt.t.Helper()
	if !lt.log.has(s) {
		lt.t.Fatalf("no log line with %q in:\n%s", s, strings.Join(lt.log.lines, ""))
	}
}

func TestPoolLoopStaticFillsAndReplaces(t *testing.T) {
	lt := startLoop(t, &config.Pool{PM: "static", PMMaxChildren: 3})
	lt.wantSpawns(3, "at start")
	lt.probe.setAll(kIdle)
	lt.clk.advance(t, 20*time.Millisecond)
	select {
	case <-lt.p.ready:
	default:
		t.Fatal("not ready once every worker was seen idle")
	}

	lt.clk.advance(t, 2*time.Second)
	pid := lt.sp.spawns()[1]
	lt.exit(pid, exitCode(0))
	lt.wantLog(fmt.Sprintf("[pool www] child %d exited with code 0 after 2.020000 seconds from start", pid))
	lt.wantSpawns(4, "after an exit")
	if r := lt.report(); r.status.Total != 3 {
		t.Fatalf("%d workers after the replacement, want 3", r.status.Total)
	}
}

func TestPoolLoopStaticBacksOffQuickFailures(t *testing.T) {
	lt := startLoop(t, &config.Pool{PM: "static", PMMaxChildren: 1})
	lt.wantSpawns(1, "at start")
	pid := lt.sp.spawns()[0]
	lt.exit(pid, exitCode(1)) // at once: a failure to start
	lt.wantLog("children keep failing at start; next spawn in 100ms")
	lt.wantSpawns(1, "during the back-off")
	lt.clk.advance(t, 99*time.Millisecond)
	lt.wantSpawns(1, "1 ms before the back-off ends")
	lt.clk.advance(t, time.Millisecond)
	lt.wantSpawns(2, "when the back-off ends")
}

func TestPoolLoopDynamicSpawnsUpToSpares(t *testing.T) {
	lt := startLoop(t, &config.Pool{PM: "dynamic", PMMaxChildren: 10, PMStartServers: 2,
		PMMinSpareServers: 2, PMMaxSpareServers: 4, PMMaxSpawnRate: 32})
	lt.wantSpawns(2, "at start")
	lt.probe.setAll(kBusy) // every worker busy: none spare
	// Ticks at 1 s, 2 s, 3 s: the spawn rate doubles (1, 2, 4) but never
	// spawns past min_spare_servers of spares: a worker not yet seen counts
	// as spare.
	for i, want := range []int{3, 5, 7} {
		lt.clk.advance(t, time.Second)
		lt.wantSpawns(want, fmt.Sprintf("tick at %ds", i+1))
	}
	lt.clk.advance(t, 999*time.Millisecond)
	lt.wantSpawns(7, "just before the 4 s tick")
	lt.clk.advance(t, time.Millisecond) // 4 s: 7 busy, rate 8 > 2 spares missing
	lt.wantSpawns(9, "tick at 4s")
	lt.wantLog("currently 7 active children, 0 spare children, 7 running children. Spawning rate 8")

	// All idle now: 9 spares > max_spare_servers, one oldest idle worker
	// retired per tick.
	lt.probe.setAll(kIdle)
	lt.clk.advance(t, time.Second)
	var retired []sentSignal
	for _, s := range lt.sp.sent() {
		if s.sig == unix.SIGQUIT {
			retired = append(retired, s)
		}
	}
	if len(retired) != 1 || retired[0].pid != lt.sp.spawns()[0] || !retired[0].at.Equal(loopT0.Add(5*time.Second)) {
		t.Fatalf("retired at the 5 s tick: %+v, want the first worker", retired)
	}
	lt.exit(retired[0].pid, exitSignal(unix.SIGQUIT))
	lt.wantLog(fmt.Sprintf("child %d has been killed by the process management after 5.000000 seconds from start", retired[0].pid))
	lt.wantSpawns(9, "after the retired worker left")
}

func TestPoolLoopOndemandRetiresAfterIdleTimeout(t *testing.T) {
	lt := startLoop(t, &config.Pool{PM: "ondemand", PMMaxChildren: 2, PMProcessIdleTimeout: config.Duration(10 * time.Second)})
	lt.wantSpawns(0, "at start")
	lt.clk.advance(t, 20*time.Millisecond) // nothing to wait for: ready
	<-lt.p.ready

	lt.p.waiting <- struct{}{} // a connection waits
	lt.sync()
	lt.wantSpawns(1, "after a connection waited")
	lt.wantLog("got accept without idle child available .... I forked")
	pid := lt.sp.spawns()[0]
	lt.probe.set(pid, kIdle)
	lt.clk.advance(t, 980*time.Millisecond) // the 1 s tick sees it idle
	retired := func() bool {
		return slices.ContainsFunc(lt.sp.sent(), func(s sentSignal) bool { return s.pid == pid && s.sig == unix.SIGQUIT })
	}
	lt.clk.advance(t, 9*time.Second)
	if retired() {
		t.Fatal("retired after 9 s idle")
	}
	lt.clk.advance(t, time.Second) // 11 s: idle for pm_process_idle_timeout
	if !retired() {
		t.Fatal("not retired after 10 s idle")
	}
	if s := lt.sp.sent(); !s[0].at.Equal(loopT0.Add(11 * time.Second)) {
		t.Fatalf("retired at %s", s[0].at)
	}
}

func TestPoolLoopStopDrains(t *testing.T) {
	lt := startLoop(t, &config.Pool{PM: "static", PMMaxChildren: 2})
	pids := lt.sp.spawns()
	stopped := make(chan struct{})
	go func() { lt.p.stop(true); close(stopped) }()
	lt.waitFor("the stop is received", func() bool { return len(lt.sp.sent()) == 2 })
	for _, pid := range pids {
		if !slices.Contains(lt.sp.sent(), sentSignal{pid, unix.SIGQUIT, loopT0}) {
			t.Fatalf("child %d not sent SIGQUIT: %+v", pid, lt.sp.sent())
		}
	}
	lt.exit(pids[0], exitSignal(unix.SIGQUIT))
	lt.wantSpawns(2, "while stopping") // no replacement
	// process_control_timeout: the last one is killed.
	lt.clk.advance(t, 10*time.Second)
	lt.wantLog(fmt.Sprintf("child %d did not stop within process_control_timeout (10s), sending SIGKILL", pids[1]))
	if s := lt.sp.sent(); s[len(s)-1] != (sentSignal{pids[1], unix.SIGKILL, loopT0.Add(10 * time.Second)}) {
		t.Fatalf("last signal %+v", s[len(s)-1])
	}
	select {
	case <-stopped:
		t.Fatal("stop returned with a child left")
	default:
	}
	lt.exits[pids[1]] = true
	lt.p.exits <- childExit{pid: pids[1], status: exitSignal(unix.SIGKILL), known: true, at: lt.clk.Now()}
	select {
	case <-stopped:
	case <-time.After(loopDeadline):
		t.Fatal("stop did not return once every child was gone")
	}
	<-lt.p.done
}
