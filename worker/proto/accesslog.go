package proto

// This file is the pool's access log, written by the worker as php-fpm's
// workers write theirs (php-src fpm_log.c): one line per finished request,
// formatted with the pool's access_format and written with a single
// write(2) once the handler has returned, before FCGI_END_REQUEST goes out.
//
// # What the master hands over
//
// The master opens the pool's access_log (O_WRONLY|O_APPEND|O_CREAT) and
// passes it to every worker on a file descriptor of its choosing, named by
// EnvAccessLogFD, with the pool's access_format in EnvAccessFormat (the
// default format when empty). Without EnvAccessLogFD the worker writes no
// access log. The worker unsets both variables and marks the fd
// close-on-exec, so that processes it starts do not inherit either.
//
// Every line is appended with one write on an O_APPEND file and is at most
// 1025 bytes long, so the lines of the pool's workers never interleave.
//
// # Reopening (SIGUSR1)
//
// A worker never reopens the file: it only has the fd. When the master
// reopens its logs on SIGUSR1 the fd of a running worker still points at
// the old file, so the master recycles its Go workers gracefully (SIGQUIT:
// they finish the request in flight and exit), as php-fpm does with its
// children, and the new workers get the new file.
//
// # How the tokens map onto a Go worker
//
// net/http/fcgi turns the FastCGI params into an *http.Request and keeps
// only the params it does not use itself (fcgi.ProcessEnv), so some of
// php-fpm's fields are rebuilt from the request:
//
//	%R  IP address of the FastCGI peer (the web server) of the last accepted
//	    connection, "-" over a Unix socket, as php-fpm; when the worker has
//	    not told the log about its connections (Accepted), REMOTE_ADDR
//	%u  the user of a Basic Authorization header, or empty (as PHP)
//	%t  when the handler started (php-fpm: when the request was accepted,
//	    microseconds earlier); %T when the line is written
//	%m  the method; %r the request path, r.URL.Path (php-fpm prints
//	    SCRIPT_NAME, which net/http/fcgi drops: for a Go program the web
//	    server's SCRIPT_NAME is normally the path); %q the raw query, %Q "?"
//	    when there is one
//	%s  the status the handler wrote, 200 when it wrote none
//	%f  SCRIPT_FILENAME, or "-"
//	%l  CONTENT_LENGTH, 0 when unknown
//	%d  handler start to handler end
//	%C  the process's CPU time (getrusage RUSAGE_SELF: the runtime's own
//	    work, such as the GC, included, and with a worker concurrency above
//	    1 the other requests in flight; not the children, which php-fpm
//	    adds) over %d, in percent; read only when the format has %C
//	%M  the Go heap's object bytes (/memory/classes/heap/objects:bytes) when
//	    the handler returns: the process's figure, not a per-request peak as
//	    Zend's; read only when the format has %M
//	%e  a param: from fcgi.ProcessEnv, or rebuilt from the request for the
//	    ones net/http/fcgi consumes (HTTP_* from r.Header, HTTP_HOST,
//	    REQUEST_METHOD, REQUEST_URI, QUERY_STRING, SCRIPT_NAME as %r,
//	    CONTENT_TYPE, CONTENT_LENGTH, REMOTE_ADDR, REMOTE_PORT,
//	    SERVER_PROTOCOL, HTTPS); PATH_INFO and REMOTE_HOST are lost ("-")
//	%o  a response header as the handler set it when it wrote the status (so
//	    not the Date and sniffed Content-Type net/http/fcgi adds, as
//	    php-fpm does not see PHP's implicit Content-type): the name as
//	    written, then in canonical form; "-" when absent or empty
//	%p  the worker's pid; %P its parent's, read at start; %n GOFPM_POOL
//
// Nothing is escaped, as in php-fpm, and an empty line is not written. A
// line longer than 1024 bytes is cut to 1021 and ends with "..." (php-fpm
// cuts at 1024 without a marker and logs a notice). Times use the worker's
// local time zone; %{format}t is strftime(3) in the C locale, see
// compileTimeFormat.
//
// # Cost
//
// The line is formatted into a pooled buffer: no allocation per request
// (TestAccessLogNoAllocs), and the clock is read only for the times the
// format has. A line with the default format costs about 0.25 µs to format
// plus the write(2), 2.3 µs on the 2-core VM of BenchmarkAccessLogLine;
// %C adds two getrusage calls (about 3 µs) and %M a runtime/metrics read
// (0.2 µs), so they are only made when the format has them.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// defaultAccessFormat is php-fpm's access.format default.
const defaultAccessFormat = `%R - %u %t "%m %r" %s`

// accessLineMax is php-fpm's FPM_LOG_BUFFER: the longest line, without its
// newline.
const accessLineMax = 1024

// AccessLog writes the access log of one worker. A nil *AccessLog is off.
type AccessLog struct {
	out    io.Writer
	file   *os.File // out when it came from EnvAccessLogFD
	tokens []accessToken
	nHdr   int  // %o tokens
	cpu    bool // the format has %C
	mem    bool // the format has %M
	start  bool // the format needs the start time (%t %d %C)
	end    bool // the format needs the end time (%T %d %C)

	pool      string
	pid, ppid int

	// peer is the FastCGI peer of the last accepted connection ("-" over a
	// Unix socket); nil until Accepted is first called.
	peer atomic.Pointer[peerAddr]

	recs sync.Pool // *accessRecord

	// skip, when set, tells of a request whose line is written elsewhere
	// (the front's logger: a Go worker wrote it).
	skip    func(*http.Request) bool
	errMu   sync.Mutex
	errLast time.Time // when a write error was last reported
	errLost int       // lines lost since then

	// suppress is access_suppress_path (accesssuppress.go).
	suppress []string

	// Clocks, injected by tests; nil means the real ones.
	now    func(end bool) time.Time
	cpuNow func() cpuTimes
	memNow func() uint64
}

type peerAddr struct {
	ip   [16]byte
	unix bool
	text string
}

// OpenAccessLog opens the access log the master passed in the environment
// and unsets its variables. It returns nil, nil when there is none. On an
// error (which the master's own checks should rule out) the fd is closed
// and the worker should go on without an access log.
func OpenAccessLog() (*AccessLog, error) {
	v, ok := os.LookupEnv(EnvAccessLogFD)
	if !ok {
		return nil, nil
	}
	format := os.Getenv(EnvAccessFormat)
	suppress := os.Getenv(EnvAccessSuppressPath)
	os.Unsetenv(EnvAccessLogFD)
	os.Unsetenv(EnvAccessFormat)
	os.Unsetenv(EnvAccessSuppressPath)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("worker: %s=%q is not a file descriptor", EnvAccessLogFD, v)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, fmt.Errorf("worker: access log fd %d: %w", fd, err)
	}
	unix.CloseOnExec(fd)
	if fl&unix.O_ACCMODE == unix.O_RDONLY {
		unix.Close(fd)
		return nil, fmt.Errorf("worker: access log fd %d is not open for writing", fd)
	}
	if format == "" {
		format = defaultAccessFormat
	}
	tokens, err := compileAccessFormat(format)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "gofpm-access-log")
	a := newAccessLog(f, tokens)
	a.file = f
	if suppress != "" {
		a.suppress = strings.Split(suppress, "\n")
	}
	return a, nil
}

// newAccessLog makes an access log writing to out.
func newAccessLog(out io.Writer, tokens []accessToken) *AccessLog {
	a := &AccessLog{
		out:    out,
		tokens: tokens,
		pool:   os.Getenv(EnvPool),
		pid:    os.Getpid(),
		ppid:   os.Getppid(),
	}
	for _, t := range tokens {
		switch t.kind {
		case tokCPU:
			a.cpu, a.start, a.end = true, true, true
		case tokDuration:
			a.start, a.end = true, true
		case tokStart:
			a.start = true
		case tokEnd:
			a.end = true
		case tokMemory:
			a.mem = true
		case tokRespHeader:
			a.nHdr++
		}
	}
	nHdr := a.nHdr
	a.recs.New = func() any {
		return &accessRecord{buf: make([]byte, 0, accessLineMax+64), hdrs: make([]string, nHdr)}
	}
	return a
}

// close closes the file the log came from (tests; a worker keeps it until
// it exits).
func (a *AccessLog) Close() error {
	if a == nil || a.file == nil {
		return nil
	}
	return a.file.Close()
}

// Accepted records the FastCGI peer of a connection the worker accepted,
// for %R. Only its IP is kept, "-" for a Unix socket, as php-fpm's
// fcgi_get_last_client_ip. A TCP connection whose RemoteAddr is its
// LocalAddr does not know its peer and is ignored.
func (a *AccessLog) Accepted(c net.Conn) {
	if a == nil || c == nil {
		return
	}
	var p peerAddr
	la, ra := c.LocalAddr(), c.RemoteAddr()
	if _, ok := la.(*net.UnixAddr); ok {
		p.unix = true
	} else if addr, ok := ra.(*net.TCPAddr); ok && ra != la {
		ip16 := addr.IP.To16()
		if ip16 == nil {
			return
		}
		copy(p.ip[:], ip16)
	} else {
		return
	}
	if old := a.peer.Load(); old != nil && old.unix == p.unix && old.ip == p.ip {
		return
	}
	if p.unix {
		p.text = "-"
	} else {
		p.text = net.IP(p.ip[:]).String()
	}
	a.peer.Store(&p)
}

// cpuTimes is CPU time used so far, in ns.
type cpuTimes struct{ user, sys int64 }

// processTimes reads the process's CPU time with one getrusage. php-fpm
// uses times(2), which adds the waited-for children, but counts in clock
// ticks (10 ms), too coarse for requests of a few milliseconds; a second
// getrusage for the children would double the cost (a system call is
// 1.3 to 1.6 µs on the VM it was measured on) for what Go handlers rarely
// do.
func processTimes() cpuTimes {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return cpuTimes{user: ru.Utime.Nano(), sys: ru.Stime.Nano()}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func (a *AccessLog) clock(end bool) time.Time {
	if a.now != nil {
		return a.now(end)
	}
	return time.Now()
}

func (a *AccessLog) cpuTimes() cpuTimes {
	if a.cpuNow != nil {
		return a.cpuNow()
	}
	return processTimes()
}

// accessRecord is one request's state: it wraps the handler's
// ResponseWriter to see the status and the headers, and holds the line
// buffer. Records are pooled; a handler must not use its ResponseWriter
// after it returned (net/http's rule).
type accessRecord struct {
	w      http.ResponseWriter
	a      *AccessLog
	status int
	wrote  bool
	hdrs   []string // %o values, when the status was written
	start  time.Time
	end    time.Time
	cpu0   cpuTimes
	cpu1   cpuTimes
	mem    uint64
	sample [1]metrics.Sample
	buf    []byte
	front  bool // the request came from gofpm's HTTP front (HeaderFront)
}

func (rec *accessRecord) Header() http.Header { return rec.w.Header() }

func (rec *accessRecord) WriteHeader(code int) {
	if !rec.wrote {
		rec.commit(code)
	}
	rec.w.WriteHeader(code)
}

func (rec *accessRecord) Write(p []byte) (int, error) {
	if !rec.wrote {
		rec.commit(http.StatusOK)
	}
	return rec.w.Write(p)
}

// Flush implements http.Flusher when the wrapped writer does.
func (rec *accessRecord) Flush() {
	if !rec.wrote {
		rec.commit(http.StatusOK)
	}
	if f, ok := rec.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController.
func (rec *accessRecord) Unwrap() http.ResponseWriter { return rec.w }

// commit notes the status and the %o headers when the header is written.
func (rec *accessRecord) commit(code int) {
	rec.wrote = true
	rec.status = code
	if rec.front {
		rec.w.Header().Set(HeaderAccessLogged, "1")
	}
	if len(rec.hdrs) == 0 {
		return
	}
	h := rec.w.Header()
	for _, t := range rec.a.tokens {
		if t.kind != tokRespHeader {
			continue
		}
		v, ok := h[t.text]
		if !ok && t.alt != t.text {
			v = h[t.alt]
		}
		if len(v) > 0 {
			rec.hdrs[t.idx] = v[0]
		}
	}
}

// wrap returns h with the access log: it serves the request, then writes
// its line. A nil log returns h.
func (a *AccessLog) Wrap(h http.Handler) http.Handler {
	if a == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := a.recs.Get().(*accessRecord)
		rec.w, rec.a = w, a
		_, rec.front = r.Header[HeaderFront]
		if a.start { // a clock read costs as much as formatting the line
			rec.start = a.clock(false)
		}
		if a.cpu {
			rec.cpu0 = a.cpuTimes()
		}
		h.ServeHTTP(rec, r)
		if !rec.wrote {
			rec.commit(http.StatusOK) // net/http/fcgi answers 200
		}
		if a.cpu {
			rec.cpu1 = a.cpuTimes()
		}
		if a.mem {
			rec.mem = a.memory(rec)
		}
		if a.end {
			rec.end = a.clock(true)
		}
		if a.skip != nil && a.skip(r) || a.suppressed(rec, r) {
			rec.buf = rec.buf[:0]
		} else {
			rec.buf = a.appendLine(rec.buf[:0], rec, r)
		}
		if len(rec.buf) > 0 {
			// Like php-fpm, a failed write loses the line, and the request
			// goes on; the failure is said once a minute at most.
			if _, err := a.out.Write(rec.buf); err != nil {
				a.writeFailed(err)
			}
		}
		rec.w, rec.wrote, rec.status, rec.front = nil, false, 0, false
		clear(rec.hdrs)
		a.recs.Put(rec)
	})
}

func (a *AccessLog) memory(rec *accessRecord) uint64 {
	if a.memNow != nil {
		return a.memNow()
	}
	s := rec.sample[:]
	s[0].Name = heapMetric
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// AccessLogger writes php-fpm style access lines for any http.Handler. The
// master's HTTP front uses it for pools whose workers write no line of
// their own (php-cgi, libfcgi, ...). %R is the client's address from
// r.RemoteAddr, %p the writing process (the master).
type AccessLogger struct{ a *AccessLog }

// NewAccessLogger compiles format (php-fpm's access.format; empty means its
// default) for lines written to out on behalf of pool.
func NewAccessLogger(out io.Writer, format, pool string) (*AccessLogger, error) {
	if format == "" {
		format = defaultAccessFormat
	}
	tokens, err := compileAccessFormat(format)
	if err != nil {
		return nil, err
	}
	a := newAccessLog(out, tokens)
	a.pool = pool
	return &AccessLogger{a: a}, nil
}

// Wrap returns h writing one line per request once it is served, unless
// skip (which may be nil) reports that the line was written elsewhere.
func (l *AccessLogger) Wrap(h http.Handler, skip func(*http.Request) bool) http.Handler {
	l.a.skip = skip
	return l.a.Wrap(h)
}

// accessErrEvery is how often at most a worker reports that its access
// log cannot be written (a full disk would otherwise mean a line per
// request).
const accessErrEvery = time.Minute

// writeFailed reports a failed access log write on stderr (the master's
// log with catch_workers_output), once per accessErrEvery.
func (a *AccessLog) writeFailed(err error) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	a.errLost++
	now := time.Now()
	if !a.errLast.IsZero() && now.Sub(a.errLast) < accessErrEvery {
		return
	}
	fmt.Fprintf(os.Stderr, "gofpm worker: access log: %v (%d line(s) lost; reported once a minute at most)\n", err, a.errLost)
	a.errLast, a.errLost = now, 0
}
