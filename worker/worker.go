package worker

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Option configures Serve.
type Option func(*server)

// WithMaxRequests overrides GOFPM_MAX_REQUESTS: after n requests the worker
// stops gracefully (0 = no limit).
func WithMaxRequests(n int) Option { return func(s *server) { s.maxRequests = n } }

// WithConcurrency overrides GOFPM_WORKER_CONCURRENCY: how many connections
// the worker serves at once (at least 1).
func WithConcurrency(n int) Option {
	return func(s *server) { s.concurrency = max(n, 1) }
}

// withListener injects the listener (tests).
func withListener(l net.Listener) Option { return func(s *server) { s.ln = l } }

// withSlot injects the scoreboard writer (tests); nil runs without one.
func withSlot(w *slotWriter) Option { return func(s *server) { s.sb = w; s.noSlot = true } }

// withStop injects the graceful-stop trigger (tests); nil disables the
// signal handler.
func withStop(c <-chan struct{}) Option { return func(s *server) { s.stopC = c; s.noSignals = true } }

// Serve serves FastCGI requests with h on the socket inherited from the
// master (fd 0), or standalone on -listen / GOFPM_LISTEN. It returns nil
// after a graceful stop (SIGQUIT or GOFPM_MAX_REQUESTS reached) once every
// request in flight has been answered.
func Serve(h http.Handler, opts ...Option) error {
	s := &server{
		maxRequests: envInt(EnvMaxRequests, 0),
		concurrency: max(envInt(EnvConcurrency, 1), 1),
		stopping:    make(chan struct{}),
		allowed:     allowListFromEnv(),
	}
	for _, o := range opts {
		o(s)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(min(s.concurrency, runtime.NumCPU()))
	}
	if !s.noSlot {
		sb, err := attachSlot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofpm worker: scoreboard disabled:", err)
		}
		s.sb = sb
		s.pages = attachPages()
	}
	alog, err := openAccessLog()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gofpm worker: access log disabled:", err)
	}
	s.alog = alog
	if s.ln == nil {
		l, err := inheritedListener()
		if errors.Is(err, errNotSocket) {
			l, err = standaloneListener(os.Args)
		}
		if err != nil {
			return err
		}
		s.ln = l
	}
	return s.serve(h)
}

type server struct {
	ln          net.Listener
	maxRequests int
	concurrency int
	stopC       <-chan struct{}
	noSignals   bool
	noSlot      bool
	sb          *slotWriter // scoreboard slot; nil without a gofpm master
	pages       *pageRelay  // the master's status and ping pages; nil without
	alog        *accessLog  // the pool's access log; nil = off
	allowed     *allowList  // listen_allowed_clients; nil = everyone

	requests atomic.Int64 // requests started
	slots    chan struct{}
	stopOnce sync.Once
	stopping chan struct{} // closed when the worker stops accepting

	mu    sync.Mutex
	busy  int           // connections with a request in flight
	conns int           // open connections
	idle  chan struct{} // signalled when busy or conns drops
}

// stop makes the worker stop accepting; it is safe to call many times.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.ln.Close()
	})
}

func (s *server) serve(h http.Handler) error {
	s.slots = make(chan struct{}, s.concurrency)
	s.idle = make(chan struct{}, 1)
	if !s.noSignals {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, unix.SIGQUIT, StackSignal)
		defer signal.Stop(sig)
		go func() {
			for {
				select {
				case x := <-sig:
					if x == StackSignal {
						s.sb.putStack(handlerStacks())
						continue
					}
					s.sb.ending(ExitSignal)
					s.stop()
				case <-s.stopping:
				}
				return
			}
		}()
	}
	if s.stopC != nil {
		go func() {
			select {
			case <-s.stopC:
				s.sb.ending(ExitSignal)
				s.stop()
			case <-s.stopping:
			}
		}()
	}
	err := fcgi.Serve(&limitListener{s}, s.alog.wrap(s.count(h)))
	select {
	case <-s.stopping:
	default:
		return err // the listener failed on its own
	}
	s.drain()
	s.sb.ending(ExitNone)
	return nil
}

// count wraps h to count requests and to stop after maxRequests: the stop is
// decided when the last request starts, before its connection closes, so the
// listener never accepts a request beyond the limit.
func (s *server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.sb.requestStart(r)
		n := s.requests.Add(1)
		if s.maxRequests > 0 && n >= int64(s.maxRequests) {
			s.sb.ending(ExitMaxRequests)
			s.stop()
		}
		if s.pages.match(r) {
			s.pages.serve(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// drain waits until no connection has a request in flight. Idle keep-conn
// connections are left to be closed by the exit.
func (s *server) drain() {
	for {
		s.mu.Lock()
		busy := s.busy
		s.mu.Unlock()
		if busy == 0 {
			return
		}
		<-s.idle
	}
}

func (s *server) signalIdle() {
	select {
	case s.idle <- struct{}{}:
	default:
	}
}

// limitListener accepts at most s.concurrency connections at once and
// refuses to accept once the worker is stopping.
type limitListener struct{ s *server }

func (l *limitListener) Accept() (net.Conn, error) {
	s := l.s
	select {
	case s.slots <- struct{}{}:
	case <-s.stopping:
		return nil, net.ErrClosed
	}
	select {
	case <-s.stopping: // stopped while waiting for a slot
		<-s.slots
		return nil, net.ErrClosed
	default:
	}
	s.sb.idle()
	c, err := s.ln.Accept()
	for err == nil && !s.allowed.allow(c.RemoteAddr()) {
		c.Close() // not read from: php-fpm's "Connection disallowed"
		c, err = s.ln.Accept()
	}
	if err != nil {
		<-s.slots
		return nil, err
	}
	s.alog.accepted(c)
	// A new connection is busy from its accept, not from its first byte:
	// a graceful stop must not exit between taking a connection from the
	// queue and reading the request the web server is sending on it.
	s.mu.Lock()
	s.conns++
	s.busy++
	s.sb.accepted()
	s.mu.Unlock()
	return &conn{Conn: c, s: s, busy: true}, nil
}

func (l *limitListener) Close() error   { return l.s.ln.Close() }
func (l *limitListener) Addr() net.Addr { return l.s.ln.Addr() }

// conn tracks whether a request is in flight on a connection: busy from the
// first byte the web server sends until the worker writes FCGI_END_REQUEST.
// net/http/fcgi writes each record with one Write, so looking at the record
// type in the header of each Write is enough.
type conn struct {
	net.Conn
	s      *server
	rt     recordTracker
	held   []byte // bytes read after an insertion point, handed out after it
	busy   bool   // a request is in flight (under s.mu)
	ending bool   // its FCGI_END_REQUEST is being written (under s.mu)
	closed bool
}

const (
	fcgiVersion1   = 1
	fcgiEndRequest = 3
)

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.read(p)
	if n > 0 {
		c.s.mu.Lock()
		if !c.busy && !c.closed {
			c.busy = true
			c.s.busy++
			c.s.sb.accepted()
		}
		c.s.mu.Unlock()
	}
	return n, err
}

// read reads the web server's bytes, with the records recordTracker
// inserts.
func (c *conn) read(p []byte) (int, error) {
	if len(c.rt.inject) > 0 {
		n := copy(p, c.rt.inject)
		c.rt.inject = c.rt.inject[n:]
		return n, nil
	}
	if len(c.held) > 0 {
		k := c.rt.feed(c.held[:min(len(c.held), len(p))])
		n := copy(p, c.held[:k])
		c.held = c.held[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if k := c.rt.feed(p[:n]); k < n {
			c.held = append(c.held[:0], p[k:n]...)
			n = k
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	end := len(p) >= 8 && p[0] == fcgiVersion1 && p[1] == fcgiEndRequest
	if end {
		// The request is over before the record goes out: on a kept
		// connection the web server may send the next request as soon as
		// it has the record, and that one must find the conn not busy.
		c.s.mu.Lock()
		if c.busy {
			c.busy, c.ending = false, true
			c.s.sb.requestEnd()
		}
		c.s.mu.Unlock()
	}
	n, err := c.Conn.Write(p)
	if end {
		// Counted busy until the record is written, so a graceful stop
		// does not exit before the answer is out.
		c.s.mu.Lock()
		if c.ending {
			c.ending = false
			c.s.busy--
		}
		c.s.mu.Unlock()
		c.s.signalIdle()
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.s.mu.Lock()
	if !c.closed {
		c.closed = true
		c.s.conns--
		if c.busy {
			c.busy = false
			c.s.busy--
			c.s.sb.requestEnd()
		}
		if c.ending {
			c.ending = false
			c.s.busy--
		}
		<-c.s.slots
	}
	c.s.mu.Unlock()
	c.s.signalIdle()
	return err
}
