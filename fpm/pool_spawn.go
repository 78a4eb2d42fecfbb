package fpm

// This file starts a pool's workers: the spawner the pool is given (the
// real one forks processes), the request limit of each, filling the pool
// up to what it wants and the back-off after failures.

import (
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// spawner starts a pool's workers and signals them. The real one is
// procSpawner; a test's records what it is asked and reports exits itself.
type spawner interface {
	// start starts one worker with its own request limit and the access
	// log file (nil without one). The worker's exit is sent on exits,
	// exactly once.
	start(maxRequests int, access *os.File, exits chan<- childExit) (*child, error)
	// signal sends sig to the worker pid.
	signal(pid int, sig unix.Signal) error
}

// procSpawner forks worker processes from a spawnSpec.
type procSpawner struct {
	spec *spawnSpec
	out  *outputCatcher // catch_workers_output; nil when off
}

func (s *procSpawner) start(maxRequests int, access *os.File, exits chan<- childExit) (*child, error) {
	c, err := s.spec.start(maxRequests, s.out, access)
	if err != nil {
		return nil, err
	}
	// Exactly one waiter per child.
	go func() {
		c.cmd.Wait()
		if s.spec.session {
			killSession(c.pid)
		}
		forgetOwned(c.pid)
		exits <- exitOf(c.pid, c.cmd.ProcessState, time.Now())
	}()
	return c, nil
}

func (s *procSpawner) signal(pid int, sig unix.Signal) error { return unix.Kill(pid, sig) }

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

// spawn starts one child.
func (p *pool) spawn() error {
	var access *os.File
	if p.access != nil && p.disp == nil { // dispatch = "master": the master writes the lines
		access = p.access.File()
	}
	maxRequests := p.maxRequestsFor()
	c, err := p.spawner.start(maxRequests, access, p.exits)
	if err != nil {
		return err
	}
	p.children[c.pid] = c
	p.count.spawned++
	p.dispatchSpawned(c, maxRequests)
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
