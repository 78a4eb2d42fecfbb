package fpm

// This file ends a pool's workers: their exits (reap), the signals sent to
// all of them and the stop request.

import (
	"fmt"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"golang.org/x/sys/unix"
)

func (p *pool) signalAll(sig unix.Signal) {
	p.stopParent(sig)
	for pid, c := range p.children {
		c.stopping = true
		if err := p.spawner.signal(pid, sig); err != nil && err != unix.ESRCH {
			p.log.Error().Err(err).Int("pid", pid).Msgf("[pool %s] unable to send %s to child %d: %v", p.cfg.Name, config.SignalName(sig), pid, err)
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
	p.dispatchGone(c)
	p.stackGone(c)
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
	ev.Int("pid", e.pid).Int("code", e.code()).Msg(msg)
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
	p.drainDispatch(graceful)
	req := stopReq{graceful: graceful, done: make(chan struct{})}
	p.stopC <- req
	<-req.done
}

// parentStopper is a spawner whose workers have a parent of their own
// (worker = "php"): stopping the pool stops the parent too, or it would
// fork new children.
type parentStopper interface{ stopParent(sig unix.Signal) }

func (p *pool) stopParent(sig unix.Signal) {
	if ps, ok := p.spawner.(parentStopper); ok {
		ps.stopParent(sig)
	}
}
