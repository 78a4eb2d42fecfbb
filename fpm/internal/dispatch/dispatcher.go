package dispatch

// This file is the Dispatcher: its configuration, what it tells about its
// requests and workers, the accept loop and the shutdown.

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Config is how a Dispatcher serves a pool.
type Config struct {
	// MaxQueue is how many requests may wait for a worker (pm_max_queue);
	// one more gets 503 at once. 0: none waits.
	MaxQueue int
	// QueueTimeout is how long a request may wait (request_queue_timeout);
	// past it, 503. 0: no limit.
	QueueTimeout time.Duration
	// RetryAfter is the Retry-After of the 503 answers, in whole seconds
	// (at least 1).
	RetryAfter time.Duration
	// MaxParams bounds a request's PARAMS; a larger request is refused
	// and its connection closed. 0: 1 MiB.
	MaxParams int
	// MaxHeld bounds the bytes of requests (their params and the start of
	// their body) the dispatcher holds over all its client connections, of
	// requests being read, waiting or running: a request that would pass
	// it is refused and its connection closed, so many connections that
	// send large params and stall cannot exhaust the master's memory.
	// 0: 64 MiB.
	MaxHeld int
	// MaxConns caps the client connections open at once on each listener
	// (the FCGI_MAX_CONNS the dispatcher tells): past it Serve accepts no
	// more and new clients wait in the listen queue, so connections that
	// stay open cannot use up the master's file descriptors. 0: 1024.
	MaxConns int
	// Extensions, when not empty, are the extensions SCRIPT_FILENAME may
	// have (security_limit_extensions); any other script gets 403.
	Extensions []string
	// Local answers in the dispatcher the requests whose SCRIPT_NAME is
	// one of LocalPaths (the pool's status and ping pages): it returns the
	// CGI response (header block and body).
	LocalPaths []string
	Local      func(params map[string]string) []byte
	// OnWait is called, outside any lock, when a request starts to wait
	// because no worker is idle (ondemand spawns then).
	OnWait func()
	// Params makes every Request carry the map of all its params (for an
	// access log's tokens); without it only the fields above are filled,
	// and a request costs no allocation for them.
	Params bool
	// OnDone is called after every request the dispatcher answered or
	// relayed, on the connection's goroutine.
	OnDone func(r *Request)
	// Retries is how often a request whose worker died before reading it
	// is given to another worker. 0: 3.
	Retries int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Outcome says how a request ended.
type Outcome uint8

// The outcomes of a request.
const (
	Relayed    Outcome = iota // a worker answered
	Local                     // answered by Config.Local
	Refused                   // 503: the queue was full
	TimedOut                  // 503: it waited past QueueTimeout
	Denied                    // 403: security_limit_extensions
	Terminated                // 504: its worker was killed for its timeout
	Failed                    // 502 or the connection closed: its worker died
	Abandoned                 // the client went away
)

var outcomeNames = [...]string{"relayed", "local", "refused", "queue_timeout", "denied", "terminated", "failed", "abandoned"}

func (o Outcome) String() string { return outcomeNames[o] }

// Request is what the dispatcher knows of one request.
type Request struct {
	Method, URI, Query string
	Script, User       string
	Remote             string // REMOTE_ADDR
	ContentLength      int64
	Accepted           time.Time // its params were read
	Start              time.Time // given to a worker; zero when none
	End                time.Time
	Worker             int   // the worker's id; 0 when none
	Status             int   // of the answer (the Status: line, 200 without)
	Bytes              int64 // STDOUT bytes relayed
	Tries              int   // workers it was given to
	Outcome            Outcome
	Params             map[string]string // all its params (the access log's tokens), when Config.Params

	translated string // PATH_TRANSLATED, checked against Extensions too
}

// Stats are the dispatcher's counters.
type Stats struct {
	Accepted  uint64 // requests read
	Started   uint64 // requests given to a worker (retries included)
	MaxBusy   int    // the most workers busy at once
	Queued    int    // requests waiting now
	MaxQueued int    // the most that waited at once
	Refused   uint64 // 503: queue full
	TimedOut  uint64 // 503: waited past QueueTimeout
	Denied    uint64 // 403
	Retried   uint64 // given to another worker after the first died
	Failed    uint64 // lost with a dying worker (including Terminated)
	Conns     int    // client connections open
}

// WorkerState is one worker as the dispatcher sees it now.
type WorkerState struct {
	ID       int
	Busy     bool
	Since    time.Time // of the current state
	Requests uint64    // requests given to it
	Current  Request   // while busy
	Last     Request   // the last finished one
}

// Dispatcher accepts FastCGI requests and gives them to workers.
type Dispatcher struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	workers map[int]*worker
	idle    []*worker // a stack: the most recently idle last
	queue   []*waiter // FIFO
	stats   Stats
	closed  bool
	lns     map[net.Listener]struct{}
	serving sync.WaitGroup // the accept loops (Serve)
	conns   map[*clientConn]struct{}
	busy    int           // workers busy now
	held    int           // bytes of requests held (Config.MaxHeld)
	drained chan struct{} // closed when closed and no conn is left
	stop    chan struct{} // closed by Shutdown: wakes a Serve waiting for a free slot

	waiters sync.Pool
	bufs    sync.Pool // *connBufs
}

// New returns a Dispatcher with no worker.
func New(cfg Config) *Dispatcher {
	if cfg.MaxParams <= 0 {
		cfg.MaxParams = 1 << 20
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 64 << 20
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 1024
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.RetryAfter < time.Second {
		cfg.RetryAfter = time.Second
	}
	d := &Dispatcher{cfg: cfg, now: cfg.Now, workers: map[int]*worker{},
		lns: map[net.Listener]struct{}{}, conns: map[*clientConn]struct{}{}, drained: make(chan struct{}), stop: make(chan struct{})}
	if d.now == nil {
		d.now = time.Now
	}
	d.waiters.New = func() any { return &waiter{ch: make(chan *worker, 1)} }
	d.bufs.New = func() any { return newConnBufs() }
	return d
}

// Serve accepts connections on l until l is closed or Shutdown is called,
// serving each on a goroutine of its own.
func (d *Dispatcher) Serve(l net.Listener) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errClosed
	}
	d.lns[l] = struct{}{}
	d.serving.Add(1)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.lns, l)
		d.mu.Unlock()
		d.serving.Done()
	}()
	var delay time.Duration
	slots := make(chan struct{}, d.cfg.MaxConns)
	for {
		select {
		case slots <- struct{}{}:
		case <-d.stop:
			return errClosed
		}
		c, err := l.Accept()
		if err != nil {
			<-slots
			if isTemporaryAccept(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay) // EMFILE and the like: back off, as net/http does
				continue
			}
			return err
		}
		delay = 0
		// Tracked before the next accept, and served even when Shutdown
		// began meanwhile: the client connected before the listener
		// closed, its request is on the way, and closing the connection
		// unread would reset it (Shutdown waits for this loop's end
		// before it counts the connections left).
		d.mu.Lock()
		cc := d.trackLocked(c)
		d.mu.Unlock()
		go func() {
			d.serveConn(cc)
			<-slots
		}()
	}
}

// isTemporaryAccept reports whether an accept error is worth retrying:
// out of file descriptors, or a connection aborted before it was taken.
func isTemporaryAccept(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED)
}

// ServeConn serves the requests of one client connection until it ends,
// and closes it. The HTTP front hands its requests in this way, on one end
// of an in-process connection.
func (d *Dispatcher) ServeConn(c net.Conn) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.Close()
		return
	}
	cc := d.trackLocked(c)
	d.mu.Unlock()
	d.serveConn(cc)
}

// trackLocked counts c among the connections Shutdown waits for.
func (d *Dispatcher) trackLocked(c net.Conn) *clientConn {
	cc := &clientConn{d: d, c: c}
	d.conns[cc] = struct{}{}
	d.stats.Conns++
	return cc
}

// serveConn serves a tracked connection until it ends, and closes it.
func (d *Dispatcher) serveConn(cc *clientConn) {
	c := cc.c
	defer func() {
		c.Close()
		d.mu.Lock()
		delete(d.conns, cc)
		d.stats.Conns--
		if d.closed && len(d.conns) == 0 {
			closeOnce(d.drained)
		}
		d.mu.Unlock()
	}()
	cc.serve()
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// Shutdown stops accepting, lets every request read or queued finish, and
// closes the client connections as they fall idle (a connection that has
// not sent its first request yet gets firstRequestWait to send it). It
// returns when none is left, or with ctx's error.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		close(d.stop)
	}
	d.closed = true
	for l := range d.lns {
		l.Close()
	}
	d.mu.Unlock()
	d.serving.Wait() // every connection accepted is tracked now
	d.mu.Lock()
	conns := make([]*clientConn, 0, len(d.conns))
	for cc := range d.conns {
		conns = append(conns, cc)
	}
	if len(d.conns) == 0 {
		closeOnce(d.drained)
	}
	d.mu.Unlock()
	for _, cc := range conns { // outside d.mu: setIdle takes cc.mu, then d.mu
		cc.wakeIdle()
	}
	var err error
	select {
	case <-d.drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	d.mu.Lock()
	for _, w := range d.workers {
		if !w.busy {
			closeWorkerConn(w) // a worker waiting on a kept connection sees its end
		} else if err != nil && w.conn != nil {
			w.conn.Close() // given up: its relay ends with an error
		}
	}
	d.mu.Unlock()
	return err
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Queued = len(d.queue)
	return s
}

// Workers returns the state of every worker, in no order.
func (d *Dispatcher) Workers() []WorkerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]WorkerState, 0, len(d.workers))
	for _, w := range d.workers {
		out = append(out, WorkerState{ID: w.id, Busy: w.busy && w.cur.Worker != 0, Since: w.since, Requests: w.requests, Current: w.cur, Last: w.last})
	}
	return out
}
