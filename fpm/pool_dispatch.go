package fpm

// This file wires a pool with dispatch = "master" to its dispatcher
// (fpm/internal/dispatch): the master accepts on the pool's socket, each
// worker gets a private listening socket as fd 0, and the pool's view of
// its workers (status page, slowlog, request_terminate_timeout, the
// process manager) comes from the dispatcher, exactly, instead of from
// sampling.
//
// The private sockets are Unix sockets in a folder of the pool's own,
// made by the master with mode 0700 (os.MkdirTemp): only the master (root,
// or the user it runs as) can connect to them, whatever user the workers
// run as, since the workers never use the path, only the listening fd they
// inherit. The abstract namespace was not chosen because anyone in the
// network namespace may connect there, around the master's checks. The
// master closes its copy of each listening socket once the worker is
// started, so a dead worker's socket refuses connections at once; a
// socket file is removed when its worker exits, and the folder when the
// pool stops.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/dispatch"
	"github.com/gofpm/gofpm/fpm/internal/status"
	"github.com/gofpm/gofpm/worker/proto"
	"golang.org/x/sys/unix"
)

// poolDispatch is a pool's dispatcher and what goes with it.
type poolDispatch struct {
	d      *dispatch.Dispatcher
	dir    string // the private sockets' folder
	ln     net.Listener
	served chan struct{} // closed when the accept loop returns

	states map[int]dispatch.WorkerState // at the last refresh, by pid; run goroutine only

	mu      sync.Mutex
	seq     int
	hist    proto.Histogram // durations of relayed requests
	answers map[int]uint64  // relayed and own answers by status code
	cpu     map[int]lastUse // per pid: CPU ticks at the end of its last request, and that request's use
	procs   map[int]*procFiles

	access *proto.AccessLogger // access_log, written by the master for every worker; nil without
}

// lastUse is what a worker used in its last request, from /proc at its end.
type lastUse struct {
	ticks  uint64  // utime+stime at the end
	cpu    float64 // percent of one CPU over the request
	memory int64   // resident bytes at the end
}

// startDispatch makes the pool's dispatcher and its private folder, and
// starts accepting on the pool's socket.
func (p *pool) startDispatch(spec *spawnSpec) error {
	dir, err := os.MkdirTemp("", "gofpm-"+p.cfg.Name+"-")
	if err != nil {
		return fmt.Errorf("pool %q: making the folder of the workers' sockets: %w", p.cfg.Name, err)
	}
	ln, err := net.FileListener(p.sock)
	if err != nil {
		os.Remove(dir)
		return fmt.Errorf("pool %q: accepting on the pool's socket: %w", p.cfg.Name, err)
	}
	pd := &poolDispatch{dir: dir, ln: ln, served: make(chan struct{}), answers: map[int]uint64{}, cpu: map[int]lastUse{}, procs: map[int]*procFiles{}}
	cfg := dispatch.Config{
		MaxQueue:     p.cfg.PMMaxQueue,
		QueueTimeout: p.cfg.RequestQueueTimeout.D(),
		MaxConns:     max(1024, p.cfg.PMMaxChildren+p.cfg.PMMaxQueue), // every request that may run or wait has its connection
		Extensions:   p.cfg.ScriptExtensions(),                        // .php for a PHP pool without the key, as php-fpm
		OnWait: func() {
			select {
			case p.waiting <- struct{}{}:
			default:
			}
		},
		OnDone: func(r *dispatch.Request) {
			if r.Outcome == dispatch.Denied {
				p.log.Warn().Msgf("[pool %s] access to the script '%s' has been denied (see security_limit_extensions)", p.cfg.Name, r.Script)
			}
			pd.done(r)
		},
	}
	for _, path := range []string{p.cfg.PMStatusPath, p.cfg.PingPath} {
		if path != "" {
			cfg.LocalPaths = append(cfg.LocalPaths, path)
		}
	}
	if len(cfg.LocalPaths) > 0 {
		cfg.Local = func(params map[string]string) []byte { return p.page(params, time.Now()).cgi() }
	}
	if p.access != nil {
		// The master writes every request's line (workers get no access
		// log file in this mode, and the front writes none for the pool).
		if pd.access, err = proto.NewAccessLogger(p.access, p.cfg.AccessFormat, p.cfg.Name); err != nil {
			ln.Close()
			os.Remove(dir)
			return fmt.Errorf("pool %q: access_format: %w", p.cfg.Name, err)
		}
		cfg.Params = true // its tokens may name any param
	}
	pd.d = dispatch.New(cfg)
	spec.private = pd.listen
	p.disp = pd
	go func() {
		defer close(pd.served)
		pd.d.Serve(ln)
	}()
	return nil
}

// listen makes a worker's private listening socket: the file the worker
// gets as fd 0 and the address the dispatcher connects to.
func (pd *poolDispatch) listen() (*os.File, string, error) {
	pd.mu.Lock()
	pd.seq++
	addr := filepath.Join(pd.dir, "w"+strconv.Itoa(pd.seq)+".sock")
	pd.mu.Unlock()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Net: "unix", Name: addr})
	if err != nil {
		return nil, "", fmt.Errorf("making a worker's socket: %w", err)
	}
	l.SetUnlinkOnClose(false) // the file stays until the worker exits
	f, err := l.File()
	l.Close()
	if err != nil {
		os.Remove(addr)
		return nil, "", fmt.Errorf("making a worker's socket: %w", err)
	}
	return f, addr, nil
}

// done records a finished request (on the connection's goroutine): its
// duration, its status code, its worker's CPU and memory from /proc, and
// its access line.
func (pd *poolDispatch) done(r *dispatch.Request) {
	var use lastUse
	if r.Worker != 0 && r.Outcome == dispatch.Relayed {
		use.ticks, use.memory = pd.procOf(r.Worker).read()
	}
	var cpu time.Duration
	pd.mu.Lock()
	if r.Status != 0 {
		pd.answers[r.Status]++
	}
	if r.Outcome == dispatch.Relayed && !r.Start.IsZero() {
		d := r.End.Sub(r.Start)
		pd.hist.Observe(d)
		if prev, ok := pd.cpu[r.Worker]; ok && use.ticks >= prev.ticks {
			cpu = time.Duration(use.ticks-prev.ticks) * 10 * time.Millisecond // USER_HZ
			if d > 0 {
				use.cpu = 100 * float64(cpu) / float64(d)
			}
		}
		pd.cpu[r.Worker] = use
	}
	pd.mu.Unlock()
	if pd.access != nil && r.Status != 0 {
		q := proto.RelayedRequest{Params: r.Params, Start: r.Start, End: r.End, Status: r.Status, CPU: cpu, Memory: uint64(max(use.memory, 0))}
		if q.Start.IsZero() { // answered by the master itself
			q.Start, q.End = r.Accepted, time.Now()
		}
		pd.access.LogRelayed(&q)
	}
}

// procOf is pid's open /proc files, opened at the first request.
func (pd *poolDispatch) procOf(pid int) *procFiles {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	pf := pd.procs[pid]
	if pf == nil {
		pf = openProcFiles(pid)
		pd.procs[pid] = pf
	}
	return pf
}

// spawned hands a new worker to the dispatcher, with its own request
// limit (pm_max_requests with jitter, which it was given).
func (p *pool) dispatchSpawned(c *child, maxRequests int) {
	if p.disp != nil && c.dispatchAddr != "" {
		p.disp.d.AddWorker(c.pid, c.dispatchAddr, maxRequests)
	}
}

// dispatchGone forgets an exited worker and removes its socket.
func (p *pool) dispatchGone(c *child) {
	if p.disp == nil {
		return
	}
	p.disp.d.RemoveWorker(c.pid)
	if c.dispatchAddr != "" {
		os.Remove(c.dispatchAddr)
	}
	p.disp.mu.Lock()
	delete(p.disp.cpu, c.pid)
	if pf := p.disp.procs[c.pid]; pf != nil {
		pf.close()
		delete(p.disp.procs, c.pid)
	}
	p.disp.mu.Unlock()
}

// dispatchRetire stops giving requests to a worker that is asked to leave.
func (p *pool) dispatchRetire(c *child) {
	if p.disp != nil {
		p.disp.d.Retire(c.pid)
	}
}

// dispatchTerminate marks a worker killed for request_terminate_timeout:
// its client gets 504 from the master.
func (p *pool) dispatchTerminate(pid int) {
	if p.disp != nil {
		p.disp.d.Terminate(pid)
	}
}

// refreshDispatch sets every child's state from the dispatcher.
func (p *pool) refreshDispatch(now time.Time) {
	ws := p.disp.d.Workers()
	p.disp.states = make(map[int]dispatch.WorkerState, len(ws))
	for _, w := range ws {
		p.disp.states[w.ID] = w
		c := p.children[w.ID]
		if c == nil {
			continue
		}
		c.seenReqs = w.Requests
		if !w.Last.Start.IsZero() {
			c.lastDuration = w.Last.End.Sub(w.Last.Start)
		}
		if !w.Busy {
			if c.state != wsEnding {
				c.state, c.since = wsIdle, w.Since
			}
			continue
		}
		r := w.Current
		c.state, c.since = wsBusy, r.Start
		c.req = request{start: r.Start, method: r.Method, uri: r.URI, query: r.Query, script: r.Script, known: true}
	}
	st := p.disp.d.Stats()
	p.count.accepted = st.Accepted
	p.count.maxActive = max(p.count.maxActive, st.MaxBusy) // every moment, not only the refreshes
}

// dispatchQueued is how many requests wait in the master.
func (p *pool) dispatchQueued() int {
	if p.disp == nil {
		return 0
	}
	return p.disp.d.Stats().Queued
}

// dispatchProc fills a status row from the dispatcher's view of pid.
func (p *pool) dispatchProc(pr *status.Proc) {
	if p.disp == nil {
		return
	}
	w, ok := p.disp.states[pr.PID]
	if !ok {
		return
	}
	r := w.Last
	if w.Busy {
		r = w.Current
	}
	pr.RequestMethod, pr.RequestURI, pr.QueryString = r.Method, r.URI, r.Query
	pr.ContentLength, pr.Script, pr.User = r.ContentLength, r.Script, r.User
	p.disp.mu.Lock()
	use := p.disp.cpu[pr.PID]
	p.disp.mu.Unlock()
	if pr.State == "Idle" {
		pr.LastRequestCPU = use.cpu
		if use.memory > 0 {
			pr.LastRequestMemory = use.memory
		}
	}
}

// dispatchCounts are the dispatcher's counters for the metrics; nil in
// the socket mode.
func (p *pool) dispatchCounts() *status.DispatchCounts {
	if p.disp == nil {
		return nil
	}
	st := p.disp.d.Stats()
	p.disp.mu.Lock()
	answers := maps.Clone(p.disp.answers)
	p.disp.mu.Unlock()
	return &status.DispatchCounts{Answers: answers, Queued: st.Queued, Refused: st.Refused, TimedOut: st.TimedOut,
		Denied: st.Denied, Retried: st.Retried, Lost: st.Failed}
}

// dispatchHistogram adds the relayed requests' durations to h.
func (p *pool) dispatchHistogram(h *proto.Histogram) {
	if p.disp == nil {
		return
	}
	p.disp.mu.Lock()
	h.Add(p.disp.hist)
	p.disp.mu.Unlock()
}

// drainDispatch stops accepting and waits until the requests the master
// relays or queues are done, at most process_control_timeout (no limit
// when 0), before the workers are signalled: a graceful reload or SIGQUIT
// loses none of them.
func (p *pool) drainDispatch(graceful bool) {
	if p.disp == nil {
		return
	}
	ctx := context.Background()
	var cancel context.CancelFunc = func() {}
	switch {
	case !graceful:
		ctx, cancel = context.WithTimeout(ctx, 0)
	case p.ctlTO > 0:
		ctx, cancel = context.WithTimeout(ctx, p.ctlTO)
	}
	defer cancel()
	if err := p.disp.d.Shutdown(ctx); err != nil && graceful {
		p.log.Warn().Msgf("[pool %s] requests still in flight after process_control_timeout (%s); stopping the workers", p.cfg.Name, p.ctlTO)
	}
	<-p.disp.served
}

// dialInProcess is the HTTP front's connection to the pool: one end of a
// socketpair whose other end the dispatcher serves, with no dial to the
// pool's socket and no accept.
func (pd *poolDispatch) dialInProcess(context.Context) (net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("connecting to the dispatcher: %w", err)
	}
	conns := [2]net.Conn{}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "gofpm-front")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			if conns[0] != nil {
				conns[0].Close()
			}
			if i == 0 {
				unix.Close(fds[1])
			}
			return nil, fmt.Errorf("connecting to the dispatcher: %w", err)
		}
	}
	go pd.d.ServeConn(conns[1])
	return conns[0], nil
}

// closeDispatch removes the private folder (the pool has stopped).
func (p *pool) closeDispatch() {
	if p.disp != nil {
		p.disp.ln.Close()
		os.RemoveAll(p.disp.dir)
	}
}
