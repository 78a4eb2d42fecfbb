package fpm

// This file is the warm PHP pool (worker = "php"): one php-cgi parent per
// pool, started with PHP_FCGI_CHILDREN = pm_max_children, forks the pool's
// children after PHP has started, so they share its opcache and a new one
// is warm at once. The pool treats each forked child as one of its workers
// (state, requests, timeouts, memory and recycling act on it); the parent
// forks the replacement of any child that exits. The parent is gofpm's own
// child: when it exits, its whole process group (its children) is killed;
// it gets SIGTERM when the master dies, on which php-cgi kills its group.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// forkWait bounds the wait for the parent to fork a child the pool does
// not know yet (php-cgi forks a replacement at once; a parent that has
// just started needs its start-up first).
const forkWait = 5 * time.Second

// phpForkSpawner hands the pool the children of one php-cgi parent.
type phpForkSpawner struct {
	proc *procSpawner // starts the parent
	log  zerolog.Logger
	name string

	mu     sync.Mutex
	parent *child        // nil when none runs
	gone   chan struct{} // closed when parent has exited
	handed map[int]bool  // children given to the pool, until they exit
}

func newPHPForkSpawner(sp *procSpawner, log zerolog.Logger, name string) *phpForkSpawner {
	return &phpForkSpawner{proc: sp, log: log, name: name, handed: map[int]bool{}}
}

// start returns the next child of the parent the pool does not have,
// starting the parent first when none runs.
func (s *phpForkSpawner) start(maxRequests int, access *os.File, exits chan<- childExit) (*child, error) {
	parent, gone, err := s.ensureParent(maxRequests)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(forkWait)
	for pause := 200 * time.Microsecond; ; pause = min(pause*2, 20*time.Millisecond) {
		for _, pid := range childrenOf(parent.pid) {
			s.mu.Lock()
			known := s.handed[pid]
			if !known {
				s.handed[pid] = true
			}
			s.mu.Unlock()
			if !known {
				return s.adopt(pid, exits), nil
			}
		}
		select {
		case <-gone:
			return nil, fmt.Errorf("php-cgi parent %d exited before it forked a child", parent.pid)
		case <-time.After(pause):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("php-cgi parent %d forked no new child within %s", parent.pid, forkWait)
		}
	}
}

// adopt makes pid one of the pool's children and reports its exit, which
// it learns from a pidfd (the parent, not gofpm, reaps it, so its status
// is not known here).
func (s *phpForkSpawner) adopt(pid int, exits chan<- childExit) *child {
	now := time.Now()
	c := &child{pid: pid, started: now, since: now}
	fd, err := unix.PidfdOpen(pid, 0)
	go func() {
		if err == nil {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err != unix.EINTR {
					break
				}
			}
			unix.Close(fd)
		}
		s.mu.Lock()
		delete(s.handed, pid)
		s.mu.Unlock()
		exits <- childExit{pid: pid, at: time.Now()}
	}()
	return c
}

// ensureParent starts the php-cgi parent unless one runs.
func (s *phpForkSpawner) ensureParent(maxRequests int) (*child, chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parent != nil {
		return s.parent, s.gone, nil
	}
	p, err := s.proc.spec.start(maxRequests, s.proc.out, nil)
	if err != nil {
		return nil, nil, err
	}
	p.close() // php-cgi writes no scoreboard and asks no pages
	gone := make(chan struct{})
	s.parent, s.gone = p, gone
	s.log.Info().Int("pid", p.pid).Msgf("[pool %s] php-cgi parent %d started", s.name, p.pid)
	go func() {
		p.cmd.Wait()
		forgetOwned(p.pid)
		// Its children must not outlive it: they are in its process group.
		unix.Kill(-p.pid, unix.SIGKILL)
		how, _, _ := exitOf(p.pid, p.cmd.ProcessState, time.Now()).describe()
		s.log.Info().Int("pid", p.pid).Msgf("[pool %s] php-cgi parent %d exited %s; its children were killed", s.name, p.pid, how)
		s.mu.Lock()
		if s.parent == p {
			s.parent, s.gone = nil, nil
		}
		s.mu.Unlock()
		close(gone)
	}()
	return p, gone, nil
}

func (s *phpForkSpawner) signal(pid int, sig unix.Signal) error { return unix.Kill(pid, sig) }

// stopParent sends sig to the parent, which stops forking and passes
// SIGTERM to its children (php-cgi's own handler).
func (s *phpForkSpawner) stopParent(sig unix.Signal) {
	s.mu.Lock()
	p := s.parent
	s.mu.Unlock()
	if p != nil {
		if err := unix.Kill(p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			s.log.Error().Err(err).Msgf("[pool %s] unable to signal php-cgi parent %d: %v", s.name, p.pid, err)
		}
	}
}

// parentPid is the running parent's pid, or 0.
func (s *phpForkSpawner) parentPid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parent == nil {
		return 0
	}
	return s.parent.pid
}

// childrenOf lists the children of pid from /proc/PID/task/PID/children.
func childrenOf(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
