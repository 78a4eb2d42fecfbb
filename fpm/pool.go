package fpm

// This file runs one pool: its children, their exits, respawns and stop.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Respawn back-off: a child that exits sooner than quickExit after its start
// counts as a failure; each consecutive failure doubles the delay before the
// next spawn, from backoffMin up to backoffMax. A child that lived longer
// resets the count.
const (
	quickExit  = time.Second
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
)

// stopReq asks a pool to stop its children; done is closed when they are gone.
type stopReq struct {
	graceful bool
	done     chan struct{}
}

// pool owns a listening socket and the children accepting on it. Its
// mutable state is owned by the run goroutine.
type pool struct {
	cfg   *PoolConfig
	log   zerolog.Logger
	sock  *os.File
	spec  *spawnSpec
	out   *outputCatcher
	grace unix.Signal   // worker_graceful_signal
	ctlTO time.Duration // process_control_timeout

	children map[int]*child
	exits    chan childExit
	stopC    chan stopReq

	failures int // consecutive quick exits or spawn errors
}

func newPool(pc *PoolConfig, g *Config, log zerolog.Logger, sock *os.File) (*pool, error) {
	spec, err := newSpawnSpec(pc, sock)
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
	}
	if pc.CatchWorkersOutput {
		p.out = &outputCatcher{log: p.log, pool: pc.Name, decorate: pc.DecorateOn(), limit: 1024}
	}
	return p, nil
}

// target is how many children the pool wants now (pm = static).
func (p *pool) target() int { return p.cfg.PMMaxChildren }

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
	c, err := p.spec.start(p.maxRequestsFor(), p.out)
	if err != nil {
		return err
	}
	p.children[c.pid] = c
	p.log.Info().Int("pid", c.pid).Msgf("[pool %s] child %d started", p.cfg.Name, c.pid)
	// Exactly one waiter per child.
	go func() {
		c.cmd.Wait()
		p.exits <- childExit{pid: c.pid, state: c.cmd.ProcessState, at: time.Now()}
	}()
	return nil
}

// fill spawns children up to the target; it returns false when a spawn
// failed (the caller backs off).
func (p *pool) fill() bool {
	for len(p.children) < p.target() {
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

// run starts the children and keeps the pool at its size until a stop
// request; it returns when every child is gone.
func (p *pool) run() {
	var (
		respawn  <-chan time.Time // set while a back-off delay is pending
		killAt   <-chan time.Time // set while stopping: escalate to SIGKILL
		stopping *stopReq
	)
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
	lived := e.at.Sub(c.started)
	how, clean := e.describe()
	msg := fmt.Sprintf("[pool %s] child %d exited %s after %.6f seconds from start", p.cfg.Name, e.pid, how, lived.Seconds())
	ev := p.log.Warn()
	switch {
	case stopping || c.stopping:
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

// pids returns the pids of the live children (for tests and debug dumps);
// it must only be called from the run goroutine or after run returned.
func (p *pool) pids() []int {
	out := make([]int, 0, len(p.children))
	for pid := range p.children {
		out = append(out, pid)
	}
	return out
}
