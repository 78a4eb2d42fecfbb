package fpm

// This file keeps each child's state current, from the scoreboard slot a
// Go worker writes or, for workers that know nothing of gofpm, from what
// the kernel shows (fpm/internal/kstate); and acts on request timeouts.

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/worker/proto"
	"golang.org/x/sys/unix"
)

// request describes the request a child is serving, as far as the master
// knows it.
type request struct {
	start         time.Time // when the request began (accept, or first seen busy)
	method, uri   string
	query, script string
	known         bool // from the scoreboard (Go worker); false: kernel-derived
}

// refresh updates every child's state.
func (p *pool) refresh(now time.Time) {
	var foreign []int
	defer p.countActive()
	if p.disp != nil {
		p.refreshDispatch(now)
		return
	}
	for pid, c := range p.children {
		if c.slot != nil {
			if s := c.slot.Read(); s.Written {
				c.fromSlot(s, now)
				if n := s.Requests + uint64(s.InFlight); n > c.seenReqs {
					p.count.accepted += n - c.seenReqs
					c.seenReqs = n
				}
				c.lastDuration = s.LastDuration
				continue
			}
		}
		foreign = append(foreign, pid)
	}
	if len(foreign) == 0 || p.probe == nil {
		return
	}
	snap, err := p.probe.Snapshot(foreign)
	if err != nil {
		p.log.Debug().Err(err).Msgf("[pool %s] reading worker state from the kernel: %v", p.cfg.Name, err)
		return
	}
	// The clock dates each change at the first snapshot that saw it, tells
	// a new connection from the previous one by its inode, and pauses the
	// request clock while a worker waits on a kept-alive connection.
	p.kclock.Observe(now, snap)
	for _, pid := range foreign {
		c := p.children[pid]
		t, ok := p.kclock.Get(pid)
		if !ok {
			continue
		}
		if t.Busy {
			if t.Conn != c.lastConn { // a connection not seen before: a request begun
				c.lastConn = t.Conn
				c.seenReqs++
				p.count.accepted++
			}
			c.state, c.since = wsBusy, t.Since
			c.req = request{start: t.Request}
		} else {
			if c.state == wsBusy && !c.req.start.IsZero() {
				c.lastDuration = now.Sub(c.req.start)
				p.count.hist.Observe(c.lastDuration)
			}
			c.state, c.since = wsIdle, t.Since
		}
	}
}

// countActive keeps the most active workers seen.
func (p *pool) countActive() {
	n := 0
	for _, c := range p.children {
		if c.state == wsBusy {
			n++
		}
	}
	p.count.maxActive = max(p.count.maxActive, n)
}

// setState records a transition, keeping the time it was first seen.
func (c *child) setState(st workerState, now time.Time) {
	if c.state != st {
		c.state, c.since = st, now
	}
}

// fromSlot maps the scoreboard's stages onto the pm's states.
func (c *child) fromSlot(s proto.SlotSnapshot, now time.Time) {
	switch s.Stage {
	case proto.StageIdle:
		c.setState(wsIdle, now)
	case proto.StageReadingHeaders, proto.StageRunning, proto.StageFinishing:
		start := s.Accepted
		if start.IsZero() {
			start = s.RequestStart
		}
		if c.state != wsBusy || !c.req.start.Equal(start) {
			c.state, c.since = wsBusy, start
		}
		c.req = request{start: start, method: s.Method, uri: s.URI, query: s.Query, script: s.Script, known: true}
	case proto.StageEnding:
		c.setState(wsEnding, now)
	default:
		c.setState(wsStarting, now)
	}
}

// checkRequests applies request_slowlog_timeout and
// request_terminate_timeout to the busy children, and escalates to SIGKILL
// for those that ignored the SIGTERM.
func (p *pool) checkRequests(now time.Time) {
	slowTO, termTO := p.cfg.RequestSlowlogTimeout.D(), p.cfg.RequestTerminateTimeout.D()
	for pid, c := range p.children {
		if !c.killAt.IsZero() && now.After(c.killAt) {
			c.killAt = time.Time{}
			p.log.Warn().Int("pid", pid).Msgf("[pool %s] child %d ignored SIGTERM for %s, sending SIGKILL", p.cfg.Name, pid, terminateGrace)
			p.spawner.signal(pid, unix.SIGKILL)
			continue
		}
		if c.state != wsBusy || c.req.start.IsZero() || c.terminating {
			continue
		}
		elapsed := now.Sub(c.req.start)
		if slowTO > 0 && elapsed >= slowTO && !c.slowLogged.Equal(c.req.start) {
			c.slowLogged = c.req.start
			p.count.slowRequests++
			p.log.Warn().Int("pid", pid).Msgf("[pool %s] child %d, script '%s' (request: \"%s\") executing too slow (%.6f sec), logging",
				p.cfg.Name, pid, c.req.script, c.req.describe(), elapsed.Seconds())
			p.writeSlowlog(c, now)
		}
		if termTO > 0 && elapsed >= termTO {
			c.terminating, c.stopping = true, true
			c.killAt = now.Add(terminateGrace)
			p.count.terminated++
			p.dispatchTerminate(pid)
			p.log.Warn().Int("pid", pid).Msgf("[pool %s] child %d, script '%s' (request: \"%s\") execution timed out (%.6f sec), terminating",
				p.cfg.Name, pid, c.req.script, c.req.describe(), elapsed.Seconds())
			p.spawner.signal(pid, unix.SIGTERM)
		}
	}
}

// describe renders "METHOD URI?QUERY" as php-fpm's timeout lines do.
func (r request) describe() string {
	if !r.known {
		return "? ?"
	}
	s := r.method + " " + r.uri
	if r.query != "" {
		s += "?" + r.query
	}
	return s
}

// writeSlowlog appends a slowlog entry in php-fpm's layout. A Go worker is
// asked for the stack of the goroutine serving the request: the entry is
// written when the stack has come (pollStacks), while the loop goes on. For
// any other worker the kernel's wait channel and stack stand in for a
// backtrace, at once.
func (p *pool) writeSlowlog(c *child, now time.Time) {
	if p.slow == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s  [pool %s] pid %d\n", now.Format("[02-Jan-2006 15:04:05]"), p.cfg.Name, c.pid)
	fmt.Fprintf(&b, "script_filename = %s\n", c.req.script)
	fmt.Fprintf(&b, "request = %s\n", c.req.describe())
	fmt.Fprintf(&b, "elapsed = %.6f sec\n", now.Sub(c.req.start).Seconds())
	if p.askStack(c, b.String(), now) {
		return
	}
	p.finishSlowlog(c.pid, b.String(), "")
}

// finishSlowlog writes an entry: head, then the worker's stack, or the
// kernel's wait channel and stack when there is none.
func (p *pool) finishSlowlog(pid int, head, stack string) {
	var b strings.Builder
	b.WriteString(head)
	if stack != "" {
		b.WriteString(stack)
		if !strings.HasSuffix(stack, "\n") {
			b.WriteByte('\n')
		}
	} else {
		wchan, _ := procfs.Wchan(pid)
		fmt.Fprintf(&b, "wchan = %s\n", wchan)
		if ks, err := procfs.KernelStack(pid); err == nil && len(ks) > 0 {
			b.WriteString("kernel stack:\n")
			b.Write(ks)
		}
	}
	if _, err := p.slow.Write([]byte(b.String())); err != nil {
		p.log.Error().Err(err).Msgf("[pool %s] writing slowlog: %v", p.cfg.Name, err)
	}
}

// stackWait bounds how long the master waits for a Go worker's stack;
// stackPoll is how often the loop looks at the slot meanwhile (the worker
// answers through shared memory: nothing to wait on).
const (
	stackWait = 500 * time.Millisecond
	stackPoll = 5 * time.Millisecond
)

// stackAsk is a slowlog entry waiting for a Go worker's stack.
type stackAsk struct {
	head     string    // the entry up to the stack
	before   uint64    // the slot's stack sequence when asked
	deadline time.Time // give up then, and write the entry without
}

// askStack asks a Go worker for the stack of the goroutine serving its
// request (proto.StackSignal; the worker writes it into its slot) and
// reports whether it did: the entry is then finished by pollStacks.
func (p *pool) askStack(c *child, head string, now time.Time) bool {
	if c.slot == nil || !c.req.known {
		return false
	}
	if _, waiting := p.stacks[c.pid]; waiting {
		return false
	}
	before := c.slot.StackSeq()
	if err := p.spawner.signal(c.pid, proto.StackSignal); err != nil {
		return false
	}
	if p.stacks == nil {
		p.stacks = map[int]*stackAsk{}
	}
	p.stacks[c.pid] = &stackAsk{head: head, before: before, deadline: now.Add(stackWait)}
	if p.stackTick == nil {
		p.stackTick = p.clock.NewTicker(stackPoll)
	}
	return true
}

// pollStacks finishes the entries whose stack came or whose wait is over.
func (p *pool) pollStacks(now time.Time) {
	for pid, a := range p.stacks {
		c := p.children[pid]
		switch {
		case c != nil && c.slot != nil && c.slot.StackSeq() != a.before:
			p.finishSlowlog(pid, a.head, c.slot.Stack())
		case c == nil || !now.Before(a.deadline):
			p.finishSlowlog(pid, a.head, "")
		default:
			continue
		}
		delete(p.stacks, pid)
	}
	if len(p.stacks) == 0 {
		p.stackTick = stopTimer(p.stackTick)
	}
}

// stackGone finishes the entry waiting on c's stack, if any, before its
// slot is closed (the child exited).
func (p *pool) stackGone(c *child) {
	a, ok := p.stacks[c.pid]
	if !ok {
		return
	}
	delete(p.stacks, c.pid)
	stack := ""
	if c.slot != nil && c.slot.StackSeq() != a.before {
		stack = c.slot.Stack()
	}
	p.finishSlowlog(c.pid, a.head, stack)
	if len(p.stacks) == 0 {
		p.stackTick = stopTimer(p.stackTick)
	}
}

// noAcceptAfter is how long connections may wait on the socket, with no
// worker busy and none accepted, before the pool warns that its workers do
// not accept. php-fpm cannot tell; gofpm sees the listen queue and what
// each worker does (fpm/internal/kstate).
const noAcceptAfter = 10 * time.Second

// noAcceptState follows one stretch of "connections wait, nobody takes
// them".
type noAcceptState struct {
	since    time.Time // first tick of the stretch; zero outside one
	accepted uint64    // the pool's accepted count when it began
	warned   bool      // the stretch has had its warning
}

// checkNoAccept is the decision behind the warning, at a maintenance tick:
// queued connections wait on the socket, busy workers hold one, accepted
// is the pool's count of requests begun and live its workers. It warns
// once per stretch in which connections waited for noAcceptAfter while
// workers were alive, none was busy and none accepted anything. A pool
// whose workers are all busy is not stuck, only full.
func checkNoAccept(st noAcceptState, now time.Time, queued, busy, live int, accepted uint64) (noAcceptState, bool) {
	if queued == 0 || busy > 0 || live == 0 || (!st.since.IsZero() && accepted != st.accepted) {
		return noAcceptState{}, false
	}
	if st.since.IsZero() {
		return noAcceptState{since: now, accepted: accepted}, false
	}
	if st.warned || now.Sub(st.since) < noAcceptAfter {
		return st, false
	}
	st.warned = true
	return st, true
}

// watchAccepts logs the warning of checkNoAccept.
func (p *pool) watchAccepts(now time.Time) {
	if p.probe == nil {
		return
	}
	busy := 0
	for _, c := range p.children {
		if c.state == wsBusy {
			busy++
		}
	}
	var warn bool
	p.noAccept, warn = checkNoAccept(p.noAccept, now, p.count.listenQueue, busy, len(p.children), p.count.accepted)
	if warn {
		p.log.Warn().Int("queued", p.count.listenQueue).Msgf("[pool %s] no worker has accepted a connection for %s while %d wait(s) in the listen queue; is the command a FastCGI worker that accepts on fd 0?",
			p.cfg.Name, now.Sub(p.noAccept.since).Truncate(time.Second), p.count.listenQueue)
	}
}
