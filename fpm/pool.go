package fpm

// This file runs one pool: its children, their exits, respawns, the
// process manager's ticks, request timeouts and stop. Everything mutable
// here is owned by the run goroutine.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/gofpm/gofpm/worker/proto"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Respawn back-off: a child that exits sooner than quickExit after its start
// counts as a failure; each consecutive round of failures doubles the delay
// before the next spawn, from backoffMin up to backoffMax. A child that
// lived longer resets the count.
const (
	quickExit  = time.Second
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
)

// maintenanceTick is php-fpm's FPM_IDLE_SERVER_MAINTENANCE_HEARTBEAT.
const maintenanceTick = time.Second

// terminateGrace is how long a worker whose request timed out gets between
// SIGTERM and SIGKILL.
const terminateGrace = time.Second

// stopReq asks a pool to stop its children; done is closed when they are gone.
type stopReq struct {
	graceful bool
	done     chan struct{}
}

// poolCounters are the pool's lifetime counters (status page, metrics).
type poolCounters struct {
	maxChildrenReached uint64
	slowRequests       uint64
	terminated         uint64
	recycledMemory     uint64
	spawned            uint64
	accepted           uint64 // requests begun (scoreboard counts; new connections for foreign workers)
	maxActive          int
	listenQueue        int // connections waiting at the last tick
	maxListenQueue     int // the most seen since the pool started
	listenBacklog      int
	recycled           map[string]uint64 // worker exits by reason (see exitReason)
	hist               proto.Histogram   // request durations of workers that are gone, and of foreign workers
}

// pool owns a listening socket and the children accepting on it.
type pool struct {
	cfg    *PoolConfig
	log    zerolog.Logger
	sock   *os.File
	spec   *spawnSpec
	out    *outputCatcher
	grace  unix.Signal   // worker_graceful_signal
	ctlTO  time.Duration // process_control_timeout
	probe  *kernelProbe  // kernel-derived state; nil when unavailable
	kclock kworkerClock  // since-times of the foreign workers
	slow   *LogFile      // slowlog; nil when unset
	access *LogFile      // access_log, written by Go workers; nil when unset
	fault  func(time.Time)

	children map[int]*child
	exits    chan childExit
	stopC    chan stopReq
	waiting  chan struct{} // ondemand: a connection waits on the socket
	recycle  chan string   // recycle every worker gracefully, for the reason given
	statusC  chan chan *poolReport
	ready    chan struct{} // closed once the first workers are up (reload handover)
	started  time.Time

	wanted   int // workers the pool means to have (static: max_children)
	failures int // consecutive rounds of quick exits or spawn errors
	pm       pmState
	count    poolCounters
	noAccept noAcceptState // the never-accepts warning (state.go)
}

func newPool(pc *PoolConfig, g *Config, log zerolog.Logger, sock *os.File, exe string) (*pool, error) {
	spec, err := newSpawnSpec(pc, sock, exe)
	if err != nil {
		return nil, err
	}
	grace := unix.SIGQUIT
	if pc.WorkerGracefulSignal != "" {
		if grace, err = signalByName(pc.WorkerGracefulSignal); err != nil {
			return nil, fmt.Errorf("pool %q: worker_graceful_signal: %w", pc.Name, err)
		}
	}
	p := &pool{
		cfg:      pc,
		log:      log.With().Str("pool", pc.Name).Logger(),
		sock:     sock,
		spec:     spec,
		grace:    grace,
		ctlTO:    g.ProcessControlTimeout.D(),
		children: map[int]*child{},
		exits:    make(chan childExit, 16),
		stopC:    make(chan stopReq),
		waiting:  make(chan struct{}, 1),
		recycle:  make(chan string, 1),
		statusC:  make(chan chan *poolReport),
		ready:    make(chan struct{}),
		started:  time.Now(),
		pm:       pmState{spawnRate: 1},
		count:    poolCounters{recycled: map[string]uint64{}},
	}
	if pc.CatchWorkersOutput {
		p.out = &outputCatcher{log: p.log, pool: pc.Name, decorate: pc.DecorateOn(), limit: 1024}
	}
	if p.probe, err = newKernelProbe(sock); err != nil {
		p.log.Warn().Err(err).Msgf("[pool %s] worker state from the kernel is unavailable: %v", pc.Name, err)
		p.probe = nil
	}
	if pc.AccessLog != "" {
		if p.access, err = OpenLogFile(pc.AccessLog); err != nil {
			return nil, fmt.Errorf("pool %q: access_log: %w", pc.Name, err)
		}
	}
	if pc.Slowlog != "" {
		if p.slow, err = OpenLogFile(pc.Slowlog); err != nil {
			return nil, fmt.Errorf("pool %q: slowlog: %w", pc.Name, err)
		}
	}
	return p, nil
}

// maxRequestsFor returns one child's request limit: pm_max_requests plus a
// random jitter in [0, pm_max_requests_jitter), so children started together
// do not all recycle together.
func (p *pool) maxRequestsFor() int {
	n := p.cfg.PMMaxRequests
	if n > 0 && p.cfg.PMMaxRequestsJitter > 0 {
		n += rand.IntN(p.cfg.PMMaxRequestsJitter)
	}
	return n
}

// spawn starts one child and its waiter.
func (p *pool) spawn() error {
	var access *os.File
	if p.access != nil {
		access = p.access.File()
	}
	c, err := p.spec.start(p.maxRequestsFor(), p.out, access)
	if err != nil {
		return err
	}
	p.children[c.pid] = c
	p.count.spawned++
	if c.pages != nil {
		f := c.pages
		c.pages = nil // the page server owns it now
		go p.servePages(f)
	}
	p.log.Info().Int("pid", c.pid).Msgf("[pool %s] child %d started", p.cfg.Name, c.pid)
	if f := c.execErr; f != nil {
		c.execErr = nil
		// Nothing comes but EOF when the worker exec step succeeds (the
		// pipe is close-on-exec in the worker); else its one-line reason.
		go func() {
			defer f.Close()
			b, _ := io.ReadAll(io.LimitReader(f, 4096))
			if msg := strings.TrimSpace(string(b)); msg != "" {
				p.log.Error().Int("pid", c.pid).Msgf("[pool %s] child %d could not start its command: %s", p.cfg.Name, c.pid, msg)
			}
		}()
	}
	// Exactly one waiter per child.
	go func() {
		c.cmd.Wait()
		forgetOwned(c.pid)
		p.exits <- childExit{pid: c.pid, state: c.cmd.ProcessState, at: time.Now()}
	}()
	return nil
}

// live counts the children that are not on their way out.
func (p *pool) live() int {
	n := 0
	for _, c := range p.children {
		if !c.stopping {
			n++
		}
	}
	return n
}

// fill spawns children up to p.wanted; it returns false when a spawn failed
// (the caller backs off).
func (p *pool) fill() bool {
	for p.live() < p.wanted && len(p.children) < p.cfg.PMMaxChildren {
		if err := p.spawn(); err != nil {
			p.failures++
			p.log.Error().Err(err).Msgf("[pool %s] unable to start a child: %v", p.cfg.Name, err)
			return false
		}
	}
	return true
}

func (p *pool) backoff() time.Duration {
	if p.failures <= 0 {
		return 0
	}
	d := backoffMin << min(p.failures-1, 16)
	return min(d, backoffMax)
}

// heartbeat is how often the pool refreshes worker states and checks
// request timeouts: a third of the shortest timeout (php-fpm), between
// 130 ms and the maintenance tick.
func (p *pool) heartbeat() time.Duration {
	hb := maintenanceTick
	for _, t := range []Duration{p.cfg.RequestTerminateTimeout, p.cfg.RequestSlowlogTimeout} {
		if t > 0 {
			hb = min(hb, max(t.D()/3, 130*time.Millisecond))
		}
	}
	return hb
}

// run starts the children and manages them until a stop request; it
// returns when every child is gone.
func (p *pool) run() {
	var (
		respawn  <-chan time.Time // set while a back-off delay is pending
		killAt   <-chan time.Time // set while stopping: escalate to SIGKILL
		stopping *stopReq
	)
	p.wanted = startCount(p.cfg)
	defer func() {
		if p.probe != nil {
			p.probe.Close()
		}
		if p.slow != nil {
			p.slow.Close()
		}
		if p.access != nil {
			p.access.Close()
		}
	}()
	schedule := func() {
		if respawn != nil || stopping != nil {
			return
		}
		if d := p.backoff(); d > 0 {
			p.log.Warn().Dur("delay", d).Int("failures", p.failures).
				Msgf("[pool %s] children keep failing at start; next spawn in %s", p.cfg.Name, d)
			respawn = time.After(d)
			return
		}
		if !p.fill() {
			respawn = time.After(p.backoff())
		}
	}
	schedule()
	maint := time.NewTicker(maintenanceTick)
	defer maint.Stop()
	beat := time.NewTicker(p.heartbeat())
	defer beat.Stop()
	// Until the first workers are up, look often: a reload waits for it.
	readyTick := time.NewTicker(20 * time.Millisecond)
	defer readyTick.Stop()
	readyC := readyTick.C
	if p.cfg.PM == "ondemand" && p.probe != nil {
		stopWatch := p.watchSocket()
		defer stopWatch()
	}
	for {
		select {
		case e := <-p.exits:
			// Back-off counts rounds, not children: exits while a respawn is
			// already pending belong to the same round.
			if p.reap(e, stopping != nil) && respawn == nil {
				p.failures++
			}
			if stopping != nil {
				if len(p.children) == 0 {
					close(stopping.done)
					return
				}
				continue
			}
			schedule()
		case <-respawn:
			respawn = nil
			if !p.fill() {
				respawn = time.After(p.backoff())
			}
		case now := <-maint.C:
			if stopping == nil {
				p.refresh(now)
				p.maintain(now)
				// ondemand: a connection may wait whose edge came while a
				// worker was starting.
				if p.cfg.PM == "ondemand" && p.probe != nil && p.probe.readable() {
					a, st := onConnectionWaiting(p.cfg, p.pm, p.snapshot(), now)
					p.pm = st
					p.act(a)
				}
				schedule()
			}
		case now := <-readyC:
			p.refresh(now)
			if p.isReady() {
				close(p.ready)
				readyTick.Stop()
				readyC = nil
			}
		case now := <-beat.C:
			if stopping == nil {
				p.refresh(now)
				p.checkRequests(now)
			}
		case <-p.waiting:
			if stopping == nil {
				now := time.Now()
				p.refresh(now)
				a, st := onConnectionWaiting(p.cfg, p.pm, p.snapshot(), now)
				p.pm = st
				p.act(a)
				schedule()
			}
		case reply := <-p.statusC:
			now := time.Now()
			if stopping == nil {
				p.refresh(now)
				p.sampleListenQueue()
			}
			reply <- p.report(now)
		case why := <-p.recycle:
			if stopping == nil {
				for _, c := range p.children {
					p.retire(c, why, false)
				}
				schedule()
			}
		case req := <-p.stopC:
			if stopping != nil { // a second request: fast stop wins
				if !req.graceful {
					p.signalAll(unix.SIGTERM)
				}
				go func() { <-stopping.done; close(req.done) }()
				continue
			}
			stopping = &req
			respawn = nil
			if len(p.children) == 0 {
				close(req.done)
				return
			}
			sig := unix.SIGTERM
			if req.graceful {
				sig = p.grace
			}
			p.signalAll(sig)
			killAt = time.After(p.ctlTO)
		case <-killAt:
			killAt = nil
			for pid := range p.children {
				p.log.Warn().Int("pid", pid).Msgf("[pool %s] child %d did not stop within process_control_timeout (%s), sending SIGKILL", p.cfg.Name, pid, p.ctlTO)
			}
			p.signalAll(unix.SIGKILL)
		}
	}
}

// isReady reports whether the pool has the workers it starts with, each
// past its start (seen idle or busy).
func (p *pool) isReady() bool {
	n := 0
	for _, c := range p.children {
		if c.state == wsStarting {
			return false
		}
		if !c.stopping {
			n++
		}
	}
	return n >= p.wanted
}

// snapshot lists the children for the pm's decision functions.
func (p *pool) snapshot() []workerSnap {
	ws := make([]workerSnap, 0, len(p.children))
	for pid, c := range p.children {
		st := c.state
		if c.stopping && !c.retiring {
			st = wsEnding // recycled, terminated or stopping: no capacity
		}
		ws = append(ws, workerSnap{pid: pid, state: st, started: c.started, since: c.since, retiring: c.retiring})
	}
	return ws
}

// maintain runs one maintenance tick: the pm's decision, and the recycling
// of idle workers above worker_max_memory.
func (p *pool) maintain(now time.Time) {
	p.sampleListenQueue()
	p.watchAccepts(now)
	if p.cfg.PM != "static" {
		a, st := decide(p.cfg, p.pm, p.snapshot(), now)
		p.pm = st
		p.act(a)
	}
	if limit := int64(p.cfg.WorkerMaxMemory); limit > 0 {
		for pid, c := range p.children {
			if c.stopping || c.state != wsIdle {
				continue // never mid-request
			}
			if rss, err := processRSS(pid); err == nil && rss > limit {
				p.count.recycledMemory++
				c.memory = true
				p.retire(c, fmt.Sprintf("uses %d MiB, more than worker_max_memory (%d MiB)", rss>>20, limit>>20), false)
			}
		}
	}
}

// sampleListenQueue reads the socket's accept queue from the kernel.
func (p *pool) sampleListenQueue() {
	if p.probe == nil {
		return
	}
	q, backlog, err := p.probe.listenQueue()
	if err != nil {
		return
	}
	if q != p.count.listenQueue && (q > 0 || p.count.listenQueue > 0) {
		p.log.Debug().Msgf("[pool %s] listen queue %d of %d", p.cfg.Name, q, backlog)
	}
	p.count.listenQueue, p.count.listenBacklog = q, backlog
	p.count.maxListenQueue = max(p.count.maxListenQueue, q)
}

// act carries out a decision of the process manager.
func (p *pool) act(a pmAction) {
	name := p.cfg.Name
	if a.debug != "" {
		p.log.Debug().Msgf("[pool %s] %s", name, a.debug)
	}
	if a.maxChildrenReached {
		p.count.maxChildrenReached++
	}
	if a.warning != "" {
		p.log.Warn().Msgf("[pool %s] %s", name, a.warning)
	}
	if a.busyWarning != "" {
		p.log.Warn().Msgf("[pool %s] %s", name, a.busyWarning)
	}
	for _, pid := range a.retire {
		if c := p.children[pid]; c != nil {
			p.retire(c, "", true)
		}
	}
	for _, pid := range a.kill {
		if c := p.children[pid]; c != nil {
			p.log.Debug().Int("pid", pid).Msgf("[pool %s] child %d did not leave after %s, sending SIGKILL", name, pid, signalName(p.grace))
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	if a.spawn > 0 {
		p.wanted = min(p.live()+a.spawn, p.cfg.PMMaxChildren)
		if p.fill() {
			p.log.Debug().Msgf("[pool %s] %d child(ren) have been created dynamically", name, a.spawn)
		}
	}
}

// retire sends a worker the pool's graceful signal. scaleDown (the pm's
// idle retire) lowers the number of workers the pool wants; a recycle
// (memory, emergency restart) keeps it, so a replacement is started as soon
// as the worker is gone.
func (p *pool) retire(c *child, why string, scaleDown bool) {
	if c.stopping && !c.retiring {
		return
	}
	if c.retiring { // picked again while still alive
		unix.Kill(c.pid, unix.SIGKILL)
		return
	}
	c.stopping, c.retiring = true, true
	if scaleDown {
		p.wanted = max(p.live(), 0)
		c.scaledDown = true
	}
	if why != "" {
		p.log.Info().Int("pid", c.pid).Msgf("[pool %s] child %d %s: recycling", p.cfg.Name, c.pid, why)
	}
	if err := unix.Kill(c.pid, p.grace); err != nil && err != unix.ESRCH {
		p.log.Error().Err(err).Msgf("[pool %s] unable to send %s to child %d: %v", p.cfg.Name, signalName(p.grace), c.pid, err)
	}
}

func (p *pool) signalAll(sig unix.Signal) {
	for pid, c := range p.children {
		c.stopping = true
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			p.log.Error().Err(err).Int("pid", pid).Msgf("[pool %s] unable to send %s to child %d: %v", p.cfg.Name, signalName(sig), pid, err)
		}
	}
}

// reap forgets an exited child and logs its exit as php-fpm does. It
// reports whether the exit counts as a failure to start (see quickExit).
func (p *pool) reap(e childExit, stopping bool) (failed bool) {
	c, ok := p.children[e.pid]
	if !ok {
		return false
	}
	delete(p.children, e.pid)
	if c.slot != nil {
		p.count.hist.Add(c.slot.Histogram())
	}
	c.close()
	lived := e.at.Sub(c.started)
	how, clean, fault := e.describe()
	if !stopping {
		p.count.recycled[c.exitReason(clean)]++
	}
	if fault && p.fault != nil {
		p.fault(e.at)
	}
	var msg string
	if c.scaledDown && clean {
		msg = fmt.Sprintf("[pool %s] child %d has been killed by the process management after %.6f seconds from start", p.cfg.Name, e.pid, lived.Seconds())
	} else {
		msg = fmt.Sprintf("[pool %s] child %d exited %s after %.6f seconds from start", p.cfg.Name, e.pid, how, lived.Seconds())
	}
	ev := p.log.Warn()
	switch {
	case stopping || c.scaledDown:
		ev = p.log.Debug()
	case clean:
		ev = p.log.Info()
	}
	ev.Int("pid", e.pid).Int("code", e.state.ExitCode()).Msg(msg)
	if c.stopping || stopping {
		return false
	}
	// A quick exit is a failure, except a clean one in a pool with
	// pm_max_requests, which may be a planned recycle under load.
	if lived < quickExit && (!clean || p.cfg.PMMaxRequests == 0) {
		return true
	}
	p.failures = 0
	return false
}

// stop asks the pool to stop its children and waits until they are gone.
func (p *pool) stop(graceful bool) {
	req := stopReq{graceful: graceful, done: make(chan struct{})}
	p.stopC <- req
	<-req.done
}

// processRSS returns the resident set size of pid in bytes.
func processRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, err
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		return 0, err
	}
	return rss * int64(os.Getpagesize()), nil
}
