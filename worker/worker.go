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

	"github.com/gofpm/gofpm/worker/proto"
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
func withSlot(w *proto.SlotWriter) Option { return func(s *server) { s.sb = w; s.noSlot = true } }

// withStop injects the graceful-stop trigger (tests); nil disables the
// signal handler.
func withStop(c <-chan struct{}) Option { return func(s *server) { s.stopC = c; s.noSignals = true } }

// Serve serves FastCGI requests with h on the socket inherited from the
// master (fd 0), or standalone on -listen / GOFPM_LISTEN. It returns nil
// after a graceful stop (SIGQUIT or GOFPM_MAX_REQUESTS reached) once every
// request in flight has been answered.
func Serve(h http.Handler, opts ...Option) error {
	s := &server{
		maxRequests: envInt(proto.EnvMaxRequests, 0),
		concurrency: max(envInt(proto.EnvConcurrency, 1), 1),
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
		sb, err := proto.AttachSlot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gofpm worker: scoreboard disabled:", err)
		}
		s.sb = sb
		s.pages = attachPages()
	}
	alog, err := proto.OpenAccessLog()
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
	sb          *proto.SlotWriter // scoreboard slot; nil without a gofpm master
	pages       *pageRelay        // the master's status and ping pages; nil without
	alog        *proto.AccessLog  // the pool's access log; nil = off
	allowed     *allowList        // listen_allowed_clients; nil = everyone

	requests atomic.Int64 // requests started
	aborts   aborts       // requests in flight, for their cancellation (badinput.go)
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
		signal.Notify(sig, unix.SIGQUIT, proto.StackSignal)
		defer signal.Stop(sig)
		go func() {
			for {
				select {
				case x := <-sig:
					if x == proto.StackSignal {
						s.sb.PutStack(handlerStacks())
						continue
					}
					s.sb.Ending(proto.ExitSignal)
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
				s.sb.Ending(proto.ExitSignal)
				s.stop()
			case <-s.stopping:
			}
		}()
	}
	err := fcgi.Serve(&limitListener{s}, s.alog.Wrap(s.count(h)))
	select {
	case <-s.stopping:
	default:
		return err // the listener failed on its own
	}
	s.drain()
	s.sb.Ending(proto.ExitNone)
	return nil
}

// count wraps h to count requests and to stop after maxRequests: the stop is
// decided when the last request starts, before its connection closes, so the
// listener never accepts a request beyond the limit.
func (s *server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, cancel, c, id := s.aborts.attach(r)
		if cancel != nil {
			defer cancel(nil)
		}
		if c != nil {
			defer c.handlerDone(id)
		}
		s.sb.RequestStart(r)
		n := s.requests.Add(1)
		if s.maxRequests > 0 && n >= int64(s.maxRequests) {
			s.sb.Ending(proto.ExitMaxRequests)
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
	s.sb.Idle()
	c, err := s.ln.Accept()
	for err == nil && !s.allowed.allow(c.RemoteAddr()) {
		c.Close() // not read from: php-fpm's "Connection disallowed"
		c, err = s.ln.Accept()
	}
	if err != nil {
		<-s.slots
		return nil, err
	}
	s.alog.Accepted(c)
	// A new connection is busy from its accept, not from its first byte:
	// a graceful stop must not exit between taking a connection from the
	// queue and reading the request the web server is sending on it.
	s.mu.Lock()
	s.conns++
	s.busy++
	s.sb.Accepted()
	s.mu.Unlock()
	cn := &conn{Conn: c, s: s, busy: true}
	cn.rt.hook = cn
	return cn, nil
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

	wmu sync.Mutex // one Write at a time: badinput.go writes from the reading goroutine
	// After the handler of request holdID has returned, its last STDOUT
	// records are held in pending and go out with its END_REQUEST in one
	// write (under wmu): one syscall instead of three, and the web server
	// reads the whole answer at once (the gofpm front can then send it
	// with a Content-Length instead of chunks).
	holding bool
	holdID  uint16
	pending []byte
	gmu     sync.Mutex
	g       guard // limits and aborts (badinput.go)
}

const (
	fcgiVersion1   = 1
	fcgiEndRequest = 3
	fcgiStdout     = 6
)

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.read(p)
	if err == nil {
		if bad := c.badErr(); bad != nil {
			return 0, bad
		}
	}
	if n > 0 {
		c.s.mu.Lock()
		if !c.busy && !c.closed {
			c.busy = true
			c.s.busy++
			c.s.sb.Accepted()
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

// handlerDone is called when the handler of request id has returned:
// what net/http/fcgi writes for it from now on is its closing flush, the
// end of its stdout and its END_REQUEST.
func (c *conn) handlerDone(id uint16) {
	c.wmu.Lock()
	c.holding, c.holdID = true, id
	c.wmu.Unlock()
}

// maxPending bounds the bytes held back for one answer: net/http/fcgi's
// buffer flushes at most 64 KiB at a time.
const maxPending = 128 << 10

func (c *conn) Write(p []byte) (int, error) {
	end := len(p) >= 8 && p[0] == fcgiVersion1 && p[1] == fcgiEndRequest
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.holding {
		id := uint16(0)
		if len(p) >= 8 {
			id = uint16(p[2])<<8 | uint16(p[3])
		}
		switch {
		case len(p) >= 8 && p[0] == fcgiVersion1 && p[1] == fcgiStdout && id == c.holdID && len(c.pending)+len(p) <= maxPending:
			c.pending = append(c.pending, p...) // net/http/fcgi reuses p
			return len(p), nil
		case end && id == c.holdID:
			c.holding = false
			want := len(p)
			c.pending = append(c.pending, p...)
			all := c.pending
			c.pending = c.pending[:0]
			if _, err := c.writeEnd(all); err != nil {
				return 0, err
			}
			return want, nil
		default: // anything else: what is held goes first
			c.holding = false
			if len(c.pending) > 0 {
				_, err := c.Conn.Write(c.pending)
				c.pending = c.pending[:0]
				if err != nil {
					return 0, err
				}
			}
		}
	}
	if end {
		return c.writeEnd(p)
	}
	return c.Conn.Write(p)
}

// writeEnd writes p, which ends with an END_REQUEST record, and marks the
// request over (under wmu).
func (c *conn) writeEnd(p []byte) (int, error) {
	rec := p[max(len(p)-16, 0):] // the END_REQUEST record
	c.onEnd(uint16(rec[2])<<8 | uint16(rec[3]))
	// The request is over before the record goes out: on a kept
	// connection the web server may send the next request as soon as it
	// has the record, and that one must find the conn not busy.
	c.s.mu.Lock()
	if c.busy {
		c.busy, c.ending = false, true
		c.s.sb.RequestEnd()
	}
	c.s.mu.Unlock()
	n, err := c.Conn.Write(p)
	// Counted busy until the record is written, so a graceful stop does
	// not exit before the answer is out.
	c.s.mu.Lock()
	if c.ending {
		c.ending = false
		c.s.busy--
	}
	c.s.mu.Unlock()
	c.s.signalIdle()
	return n, err
}

func (c *conn) Close() error {
	c.wmu.Lock()
	if len(c.pending) > 0 { // held bytes whose END_REQUEST never came
		c.Conn.Write(c.pending)
		c.pending = c.pending[:0]
	}
	c.holding = false
	c.wmu.Unlock()
	err := c.Conn.Close()
	c.onClose()
	c.s.mu.Lock()
	if !c.closed {
		c.closed = true
		c.s.conns--
		if c.busy {
			c.busy = false
			c.s.busy--
			c.s.sb.RequestEnd()
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
