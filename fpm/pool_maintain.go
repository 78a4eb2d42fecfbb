package fpm

// This file is what a pool does at its ticks: the process manager's
// decision and carrying it out, the listen queue, worker_max_memory and
// the readiness a reload waits for.

import (
	"fmt"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"golang.org/x/sys/unix"
)

// heartbeat is how often the pool refreshes worker states and checks
// request timeouts: a third of the shortest timeout (php-fpm), between
// 130 ms and the maintenance tick.
func (p *pool) heartbeat() time.Duration {
	hb := maintenanceTick
	for _, t := range []config.Duration{p.cfg.RequestTerminateTimeout, p.cfg.RequestSlowlogTimeout} {
		if t > 0 {
			hb = min(hb, max(t.D()/3, 130*time.Millisecond))
		}
	}
	return hb
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
			if rss, err := procfs.RSS(pid); err == nil && rss > limit {
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
	q, backlog, err := p.probe.ListenQueue()
	if err != nil {
		return
	}
	q += p.dispatchQueued()
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
			p.log.Debug().Int("pid", pid).Msgf("[pool %s] child %d did not leave after %s, sending SIGKILL", name, pid, config.SignalName(p.grace))
			p.spawner.signal(pid, unix.SIGKILL)
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
		p.spawner.signal(c.pid, unix.SIGKILL)
		return
	}
	c.stopping, c.retiring = true, true
	p.dispatchRetire(c)
	if scaleDown {
		p.wanted = max(p.live(), 0)
		c.scaledDown = true
	}
	if why != "" {
		p.log.Info().Int("pid", c.pid).Msgf("[pool %s] child %d %s: recycling", p.cfg.Name, c.pid, why)
	}
	if err := p.spawner.signal(c.pid, p.grace); err != nil && err != unix.ESRCH {
		p.log.Error().Err(err).Msgf("[pool %s] unable to send %s to child %d: %v", p.cfg.Name, config.SignalName(p.grace), c.pid, err)
	}
}
