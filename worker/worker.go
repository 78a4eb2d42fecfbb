package worker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
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
	aborts   aborts       // requests in flight, for their cancellation (filter_requests.go)
	slots    chan struct{}
	stopOnce sync.Once
	stopping chan struct{} // closed when the worker stops accepting

	mu        sync.Mutex
	busy      int           // connections with a request in flight
	accepting int           // accepts in progress (limitListener.accept)
	conns     int           // open connections
	sessions  int           // net/http/fcgi's connections (session.go)
	idle      chan struct{} // signalled when busy or conns drops
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
	err := stdfcgi.Serve(newSessions(s), s.alog.Wrap(s.count(h)))
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
		r, cancel, c, id, tok := s.aborts.attach(r)
		if cancel != nil {
			defer cancel(nil)
		}
		if c != nil {
			defer c.handlerDone(id, tok)
		}
		if _, pipe := r.Body.(*io.PipeReader); !pipe {
			// net/http/fcgi gives every request without a body one
			// shared reader, which io.Copy writes to: two handlers
			// copying their empty bodies would race on it.
			r.Body = http.NoBody
		}
		s.sb.RequestStart(r)
		n := s.requests.Add(1)
		if s.maxRequests > 0 && n >= int64(s.maxRequests) {
			s.sb.Ending(proto.ExitMaxRequests)
			s.stop()
		}
		if s.pages.match(r) {
			if c != nil {
				c.dropDate(id)
			}
			s.pages.serve(w, r)
			return
		}
		if c != nil {
			w = &flushWriter{w, c}
		}
		h.ServeHTTP(w, r)
	})
}

// flushWriter makes a handler's Flush send what the filter holds back: a
// header block net/http/fcgi wrote on a Write of no bytes waits for the
// body's first bytes (filter_write.go), and a Flush with nothing buffered
// writes nothing the filter could see.
type flushWriter struct {
	http.ResponseWriter
	c *conn
}

func (f *flushWriter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	f.c.flushHeld()
}

// Unwrap is for http.ResponseController.
func (f *flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// drain waits until no connection has a request in flight. Idle keep-conn
// connections are left to be closed by the exit.
func (s *server) drain() {
	for s.inFlight() > 0 {
		<-s.idle
	}
}

// inFlight counts what a graceful stop waits for: connections with a
// request in flight, and accepts under way.
func (s *server) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy + s.accepting
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
	c, err := l.accept(nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// accept is Accept into reuse (see initConn), or into a new conn when nil.
func (l *limitListener) accept(reuse *conn) (*conn, error) {
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
	// Counted from before the accept: a graceful stop that begins while
	// the kernel hands over a connection must not find the worker idle and
	// exit between the accept and initConn's count, resetting a
	// connection whose request was never read (nginx: "recv() failed (104:
	// Connection reset by peer) while reading response header", once in a
	// few reload storms).
	s.mu.Lock()
	s.accepting++
	s.mu.Unlock()
	c, err := s.ln.Accept()
	for err == nil && !s.allowed.allow(c.RemoteAddr()) {
		c.Close() // not read from: php-fpm's "Connection disallowed"
		c, err = s.ln.Accept()
	}
	if err != nil {
		s.mu.Lock()
		s.accepting--
		s.mu.Unlock()
		s.signalIdle()
		<-s.slots
		return nil, err
	}
	if reuse == nil {
		reuse = new(conn)
	}
	cn := initConn(reuse, c, s) // busy from here: the drain has no reason to look again
	s.mu.Lock()
	s.accepting--
	s.mu.Unlock()
	return cn, nil
}

func (l *limitListener) Close() error   { return l.s.ln.Close() }
func (l *limitListener) Addr() net.Addr { return l.s.ln.Addr() }
