package fpm

// This file runs one pool: its loop receives the children's exits, the
// process manager's ticks, the heartbeat for request timeouts, status
// requests and the stop, and never blocks on any of them (pool_spawn.go,
// pool_maintain.go, pool_stop.go, state.go do the work). Everything mutable
// here is owned by the run goroutine. The pool is given its spawner, its
// probe and its clock, so a test drives the loop in-process.

import (
	"fmt"
	"os"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/kstate"
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

// workerProbe tells what workers that write no scoreboard do, and how
// many connections wait on the pool's socket, from the kernel (the real one
// is kstate's kernelProbe); a test scripts it.
type workerProbe interface {
	Snapshot(pids []int) (map[int]kstate.Worker, error)
	ListenQueue() (queued, backlog int, err error)
	Readable() bool
	Close() error
}

// pool owns a listening socket and the children accepting on it.
type pool struct {
	cfg    *config.Pool
	log    zerolog.Logger
	sock   *os.File
	grace  unix.Signal   // worker_graceful_signal
	ctlTO  time.Duration // process_control_timeout
	probe  workerProbe   // kernel-derived state; nil when unavailable
	kclock kstate.Clock  // since-times of the foreign workers
	slow   *LogFile      // slowlog; nil when unset
	access *LogFile      // access_log, written by Go workers; nil when unset
	fault  func(time.Time)

	spawner spawner
	clock   clock

	children map[int]*child
	exits    chan childExit
	stopC    chan stopReq
	waiting  chan struct{} // ondemand: a connection waits on the socket
	recycle  chan string   // recycle every worker gracefully, for the reason given
	reopenC  chan reopenReq
	reopened chan reopenedLogs // from openLogsBeside
	statusC  chan chan *poolReport
	ready    chan struct{} // closed once the first workers are up (reload handover)
	done     chan struct{} // closed when run returns
	started  time.Time

	wanted   int // workers the pool means to have (static: max_children)
	failures int // consecutive rounds of quick exits or spawn errors
	pm       pmState
	count    poolCounters
	noAccept noAcceptState // the never-accepts warning (state.go)

	stacks    map[int]*stackAsk // slowlog entries waiting for a Go worker's stack, by pid
	stackTick timer             // polls their slots while any waits

	disp *poolDispatch // dispatch = "master" (pool_dispatch.go); nil otherwise
}

// jsonLog tells that the error log is JSON (Options.JSONLog).
func newPool(pc *config.Pool, g *config.Config, log zerolog.Logger, sock *os.File, exe string, jsonLog bool) (*pool, error) {
	spec, err := newSpawnSpec(pc, sock, exe)
	if err != nil {
		return nil, err
	}
	sp := &procSpawner{spec: spec}
	var s spawner = sp
	if pc.Worker == "php" {
		s = newPHPForkSpawner(sp, log.With().Str("pool", pc.Name).Logger(), pc.Name)
	}
	p, err := makePool(pc, g, log, sock, s, realClock{})
	if err != nil {
		return nil, err
	}
	if pc.CatchWorkersOutput {
		sp.out = &outputCatcher{log: p.log, pool: pc.Name, decorate: pc.DecorateOn(), limit: max(g.LogLimit, 512), json: jsonLog}
	}
	if kp, err := kstate.New(sock); err != nil {
		p.log.Warn().Err(err).Msgf("[pool %s] worker state from the kernel is unavailable: %v", pc.Name, err)
	} else {
		p.probe = kp
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
	if pc.DispatchByMaster() {
		if err := p.startDispatch(spec); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// makePool is a pool that starts its workers with sp and keeps time with
// clk, without a probe or log files yet (newPool adds the real ones; a
// test its own probe).
func makePool(pc *config.Pool, g *config.Config, log zerolog.Logger, sock *os.File, sp spawner, clk clock) (*pool, error) {
	grace := pc.GracefulSignal
	if grace == 0 {
		grace = unix.SIGQUIT
	}
	return &pool{
		cfg:      pc,
		log:      log.With().Str("pool", pc.Name).Logger(),
		sock:     sock,
		grace:    grace,
		ctlTO:    g.ProcessControlTimeout.D(),
		spawner:  sp,
		clock:    clk,
		children: map[int]*child{},
		exits:    make(chan childExit, 16),
		stopC:    make(chan stopReq),
		waiting:  make(chan struct{}, 1),
		recycle:  make(chan string, 1),
		reopenC:  make(chan reopenReq),
		reopened: make(chan reopenedLogs),
		statusC:  make(chan chan *poolReport),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		started:  clk.Now(),
		pm:       pmState{spawnRate: 1},
		count:    poolCounters{recycled: map[string]uint64{}},
	}, nil
}

// run starts the children and manages them until a stop request; it
// returns when every child is gone.
func (p *pool) run() {
	var (
		respawn  timer // set while a back-off delay is pending
		killAt   timer // set while stopping: escalate to SIGKILL
		stopping *stopReq
	)
	p.wanted = startCount(p.cfg)
	defer close(p.done)
	defer func() {
		stopTimer(respawn)
		stopTimer(killAt)
		stopTimer(p.stackTick)
		if p.probe != nil {
			p.probe.Close()
		}
		if p.slow != nil {
			p.slow.Close()
		}
		if p.access != nil {
			p.access.Close()
		}
		p.closeDispatch()
	}()
	schedule := func() {
		if respawn != nil || stopping != nil {
			return
		}
		if d := p.backoff(); d > 0 {
			p.log.Warn().Dur("delay", d).Int("failures", p.failures).
				Msgf("[pool %s] children keep failing at start; next spawn in %s", p.cfg.Name, d)
			respawn = p.clock.NewTimer(d)
			return
		}
		if !p.fill() {
			respawn = p.clock.NewTimer(p.backoff())
		}
	}
	schedule()
	maint := p.clock.NewTicker(maintenanceTick)
	defer maint.Stop()
	beat := p.clock.NewTicker(p.heartbeat())
	defer beat.Stop()
	// Until the first workers are up, look often: a reload waits for it.
	readyTick := p.clock.NewTicker(20 * time.Millisecond)
	defer func() { stopTimer(readyTick) }()
	if p.cfg.PM == "ondemand" && p.probe != nil && p.sock != nil && p.disp == nil { // the dispatcher says when a request waits
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
		case <-timerC(respawn):
			respawn = stopTimer(respawn)
			if !p.fill() {
				respawn = p.clock.NewTimer(p.backoff())
			}
		case now := <-maint.C():
			if stopping == nil {
				p.refresh(now)
				p.maintain(now)
				// ondemand: a connection may wait whose edge came while a
				// worker was starting.
				if p.cfg.PM == "ondemand" && (p.dispatchQueued() > 0 || p.disp == nil && p.probe != nil && p.probe.Readable()) {
					a, st := onConnectionWaiting(p.cfg, p.pm, p.snapshot(), now)
					p.pm = st
					p.act(a)
				}
				schedule()
			}
		case now := <-timerC(readyTick):
			p.refresh(now)
			if p.isReady() {
				close(p.ready)
				readyTick = stopTimer(readyTick)
			}
		case now := <-beat.C():
			if stopping == nil {
				p.refresh(now)
				p.checkRequests(now)
			}
		case <-p.waiting:
			if stopping == nil {
				now := p.clock.Now()
				p.refresh(now)
				a, st := onConnectionWaiting(p.cfg, p.pm, p.snapshot(), now)
				p.pm = st
				p.act(a)
				schedule()
			}
		case reply := <-p.statusC:
			now := p.clock.Now()
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
		case req := <-p.reopenC:
			p.openLogsBeside(req)
		case r := <-p.reopened:
			p.installLogs(r)
		case req := <-p.stopC:
			if stopping != nil { // a second request: fast stop wins
				if !req.graceful {
					p.signalAll(unix.SIGTERM)
				}
				go func() { <-stopping.done; close(req.done) }()
				continue
			}
			stopping = &req
			respawn = stopTimer(respawn)
			if len(p.children) == 0 {
				p.stopParent(unix.SIGTERM)
				close(req.done)
				return
			}
			sig := unix.SIGTERM
			if req.graceful {
				sig = p.grace
			}
			p.signalAll(sig)
			killAt = p.clock.NewTimer(p.ctlTO)
		case now := <-timerC(p.stackTick):
			p.pollStacks(now)
		case <-timerC(killAt):
			killAt = stopTimer(killAt)
			for pid := range p.children {
				p.log.Warn().Int("pid", pid).Msgf("[pool %s] child %d did not stop within process_control_timeout (%s), sending SIGKILL", p.cfg.Name, pid, p.ctlTO)
			}
			p.signalAll(unix.SIGKILL)
		}
	}
}
