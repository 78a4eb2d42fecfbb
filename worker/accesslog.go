package worker

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
//	    not told the log about its connections (accepted), REMOTE_ADDR
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
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/textproto"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Environment variables that turn on the access log.
const (
	// EnvAccessLogFD names the fd, open for appending on the pool's
	// access_log, that the worker writes its lines to.
	EnvAccessLogFD = "GOFPM_ACCESS_LOG_FD"
	// EnvAccessFormat holds the pool's access_format; empty means
	// defaultAccessFormat.
	EnvAccessFormat = "GOFPM_ACCESS_FORMAT"
)

// defaultAccessFormat is php-fpm's access.format default.
const defaultAccessFormat = `%R - %u %t "%m %r" %s`

// accessLineMax is php-fpm's FPM_LOG_BUFFER: the longest line, without its
// newline.
const accessLineMax = 1024

// accessLog writes the access log of one worker. A nil *accessLog is off.
type accessLog struct {
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
	// Unix socket); nil until accepted is first called.
	peer atomic.Pointer[peerAddr]

	recs sync.Pool // *accessRecord

	// skip, when set, tells of a request whose line is written elsewhere
	// (the front's logger: a Go worker wrote it).
	skip    func(*http.Request) bool
	errMu   sync.Mutex
	errLast time.Time // when a write error was last reported
	errLost int       // lines lost since then

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

// openAccessLog opens the access log the master passed in the environment
// and unsets its variables. It returns nil, nil when there is none. On an
// error (which the master's own checks should rule out) the fd is closed
// and the worker should go on without an access log.
func openAccessLog() (*accessLog, error) {
	v, ok := os.LookupEnv(EnvAccessLogFD)
	if !ok {
		return nil, nil
	}
	format := os.Getenv(EnvAccessFormat)
	os.Unsetenv(EnvAccessLogFD)
	os.Unsetenv(EnvAccessFormat)
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
	return a, nil
}

// newAccessLog makes an access log writing to out.
func newAccessLog(out io.Writer, tokens []accessToken) *accessLog {
	a := &accessLog{
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
func (a *accessLog) close() error {
	if a == nil || a.file == nil {
		return nil
	}
	return a.file.Close()
}

// accepted records the FastCGI peer of a connection the worker accepted,
// for %R. Only its IP is kept, "-" for a Unix socket, as php-fpm's
// fcgi_get_last_client_ip. A TCP connection whose RemoteAddr is its
// LocalAddr does not know its peer and is ignored.
func (a *accessLog) accepted(c net.Conn) {
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

func (a *accessLog) clock(end bool) time.Time {
	if a.now != nil {
		return a.now(end)
	}
	return time.Now()
}

func (a *accessLog) cpuTimes() cpuTimes {
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
	a      *accessLog
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

// HeaderFront is set by gofpm's HTTP front on every request it passes to a
// worker; a worker that writes an access line answers with
// HeaderAccessLogged, so the front does not write a second one.
const (
	HeaderFront        = "X-Gofpm-Front"
	HeaderAccessLogged = "X-Gofpm-Access-Logged"
)

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
func (a *accessLog) wrap(h http.Handler) http.Handler {
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
		if a.skip != nil && a.skip(r) {
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

func (a *accessLog) memory(rec *accessRecord) uint64 {
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

// accessKind is what an accessToken prints.
type accessKind uint8

const (
	tokLiteral       accessKind = iota
	tokCPU                      // %C; unit: cpuTotal, cpuUser, cpuSystem
	tokDuration                 // %d; unit: durSeconds, durMilli, durMicro
	tokEnv                      // %{NAME}e; unit: env*
	tokScript                   // %f
	tokContentLength            // %l
	tokMethod                   // %m
	tokMemory                   // %M; unit: memBytes, memKilo, memMega
	tokPool                     // %n
	tokRespHeader               // %{Name}o
	tokPID                      // %p
	tokPPID                     // %P
	tokQuery                    // %q
	tokQueryMark                // %Q
	tokURI                      // %r
	tokRemote                   // %R
	tokStatus                   // %s
	tokStart                    // %t
	tokEnd                      // %T
	tokUser                     // %u
)

const (
	cpuTotal = iota
	cpuUser
	cpuSystem
)

const (
	durSeconds = iota
	durMilli
	durMicro
)

const (
	memBytes = iota
	memKilo
	memMega
)

// Where %{NAME}e finds NAME.
const (
	envParam         = iota // fcgi.ProcessEnv
	envHeader               // HTTP_*: r.Header[alt]
	envHost                 // HTTP_HOST: r.Host
	envContentLength        // r.ContentLength
	envContentType          // r.Header["Content-Type"]
	envHTTPS                // r.TLS
	envQuery                // r.URL.RawQuery
	envRemoteAddr           // r.RemoteAddr's host
	envRemotePort           // r.RemoteAddr's port
	envMethod               // r.Method
	envRequestURI           // r.URL: escaped path and query
	envScriptName           // r.URL.Path, as %r
	envProtocol             // r.Proto
	envLost                 // consumed by net/http/fcgi and not kept
)

// accessToken is one piece of a compiled access format.
type accessToken struct {
	kind accessKind
	unit uint8      // the {arg} variant of %C, %d, %M; the source of %e
	text string     // literal text; %e param name or header key; %o name
	alt  string     // %o: the canonical header name
	idx  int        // %o: index into accessRecord.hdrs
	tf   timeFormat // %t, %T
}

// accessArgs lists the {arg} values each token allows, as the config
// (fpm cfgCheckAccessFormat); nil allows any.
var accessArgs = map[byte][]string{
	'C': {"total", "user", "system"},
	'd': {"seconds", "milliseconds", "milli", "miliseconds", "mili", "microseconds", "micro"},
	'M': {"bytes", "kilobytes", "kilo", "megabytes", "mega"},
	'e': nil, 'o': nil, 't': nil, 'T': nil,
}

var defaultTimeFormat = compileTimeFormat("%d/%b/%Y:%H:%M:%S %z")

// compileAccessFormat parses an access_format. It accepts exactly what the
// configuration accepts, and its errors say the same.
func compileAccessFormat(format string) ([]accessToken, error) {
	var (
		tokens []accessToken
		lit    []byte
		nHdr   int
	)
	flush := func() {
		if len(lit) > 0 {
			tokens = append(tokens, accessToken{kind: tokLiteral, text: string(lit)})
			lit = lit[:0]
		}
	}
	bad := func(f string, args ...any) ([]accessToken, error) {
		return nil, errors.New("worker: access format: " + fmt.Sprintf(f, args...))
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			lit = append(lit, format[i])
			continue
		}
		i++
		arg, hasArg := "", false
		if i < len(format) && format[i] == '{' {
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				return bad("missing \"}\" after %q", format[i-1:])
			}
			arg, hasArg = format[i+1:i+end], true
			i += end + 1
		}
		if i >= len(format) {
			return bad("the format ends in the middle of a token (write %%%% for a literal %%)")
		}
		c := format[i]
		if c >= utf8.RuneSelf || !strings.ContainsRune("%CdefMlmnopPqQrRstTu", rune(c)) {
			r, _ := utf8.DecodeRuneInString(format[i:])
			return bad("invalid token %%%c", r)
		}
		allowed, embrace := accessArgs[c]
		switch {
		case hasArg && !embrace:
			return bad("embrace is not allowed for modifier %%%c", c)
		case (c == 'e' || c == 'o') && arg == "":
			return bad("%%%c needs an argument, as in %%{NAME}%c", c, c)
		case hasArg && allowed != nil && !containsString(allowed, arg):
			return bad("%%{%s}%c: the argument must be one of %s", arg, c, strings.Join(allowed, ", "))
		}
		if c == '%' {
			lit = append(lit, '%')
			continue
		}
		flush()
		t := accessToken{}
		switch c {
		case 'C':
			t.kind = tokCPU
			switch arg {
			case "user":
				t.unit = cpuUser
			case "system":
				t.unit = cpuSystem
			}
		case 'd':
			t.kind = tokDuration
			switch arg {
			case "milliseconds", "milli", "miliseconds", "mili":
				t.unit = durMilli
			case "microseconds", "micro":
				t.unit = durMicro
			}
		case 'e':
			t.kind = tokEnv
			t.unit, t.text = envSource(arg)
		case 'f':
			t.kind = tokScript
		case 'l':
			t.kind = tokContentLength
		case 'm':
			t.kind = tokMethod
		case 'M':
			t.kind = tokMemory
			switch arg {
			case "kilobytes", "kilo":
				t.unit = memKilo
			case "megabytes", "mega":
				t.unit = memMega
			}
		case 'n':
			t.kind = tokPool
		case 'o':
			t.kind, t.text, t.alt, t.idx = tokRespHeader, arg, textproto.CanonicalMIMEHeaderKey(arg), nHdr
			nHdr++
		case 'p':
			t.kind = tokPID
		case 'P':
			t.kind = tokPPID
		case 'q':
			t.kind = tokQuery
		case 'Q':
			t.kind = tokQueryMark
		case 'r':
			t.kind = tokURI
		case 'R':
			t.kind = tokRemote
		case 's':
			t.kind = tokStatus
		case 't', 'T':
			t.kind = tokStart
			if c == 'T' {
				t.kind = tokEnd
			}
			t.tf = defaultTimeFormat
			if arg != "" {
				t.tf = compileTimeFormat(arg)
			}
		case 'u':
			t.kind = tokUser
		}
		tokens = append(tokens, t)
	}
	flush()
	return tokens, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// envSource says where %{name}e is found in a request built by
// net/http/fcgi, and the map key to look up.
func envSource(name string) (uint8, string) {
	switch name {
	case "HTTP_HOST":
		return envHost, name
	case "CONTENT_LENGTH":
		return envContentLength, name
	case "CONTENT_TYPE":
		return envContentType, name
	case "HTTPS":
		return envHTTPS, name
	case "QUERY_STRING":
		return envQuery, name
	case "REMOTE_ADDR":
		return envRemoteAddr, name
	case "REMOTE_PORT":
		return envRemotePort, name
	case "REQUEST_METHOD":
		return envMethod, name
	case "REQUEST_URI":
		return envRequestURI, name
	case "SCRIPT_NAME":
		return envScriptName, name
	case "SERVER_PROTOCOL":
		return envProtocol, name
	case "PATH_INFO", "REMOTE_HOST":
		return envLost, name
	}
	if after, ok := strings.CutPrefix(name, "HTTP_"); ok {
		// cgi.RequestFromMap: Header.Add(strings.ReplaceAll(after, "_", "-"), v)
		return envHeader, textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(after, "_", "-"))
	}
	return envParam, name
}

// appendLine formats rec's line, cut to accessLineMax, with its newline;
// an empty line stays empty (php-fpm writes none).
func (a *accessLog) appendLine(b []byte, rec *accessRecord, r *http.Request) []byte {
	start := len(b)
	for i := range a.tokens {
		if len(b) > accessLineMax {
			break
		}
		t := &a.tokens[i]
		switch t.kind {
		case tokLiteral:
			b = appendCut(b, t.text)
		case tokCPU:
			b = appendCPU(b, t.unit, rec)
		case tokDuration:
			us := rec.end.Sub(rec.start).Microseconds()
			switch t.unit {
			case durSeconds:
				b = strconv.AppendFloat(b, float64(us/1e6)+float64(us%1e6)/1e6, 'f', 3, 64)
			case durMilli:
				b = strconv.AppendFloat(b, float64(us/1e6)*1000+float64(us%1e6)/1000, 'f', 3, 64)
			default:
				b = strconv.AppendInt(b, us, 10)
			}
		case tokEnv:
			b = appendEnv(b, t, r)
		case tokScript:
			b = appendOr(b, fcgi.ProcessEnv(r)["SCRIPT_FILENAME"])
		case tokContentLength:
			b = strconv.AppendInt(b, max(r.ContentLength, 0), 10)
		case tokMethod:
			b = appendOr(b, r.Method)
		case tokMemory:
			m := rec.mem
			switch t.unit {
			case memKilo:
				m /= 1024
			case memMega:
				m /= 1024 * 1024
			}
			b = strconv.AppendUint(b, m, 10)
		case tokPool:
			b = appendOr(b, a.pool)
		case tokRespHeader:
			b = appendOr(b, rec.hdrs[t.idx])
		case tokPID:
			b = strconv.AppendInt(b, int64(a.pid), 10)
		case tokPPID:
			b = strconv.AppendInt(b, int64(a.ppid), 10)
		case tokQuery:
			if r.URL != nil {
				b = appendCut(b, r.URL.RawQuery)
			}
		case tokQueryMark:
			if r.URL != nil && r.URL.RawQuery != "" {
				b = append(b, '?')
			}
		case tokURI:
			if r.URL != nil {
				b = appendCut(b, r.URL.Path)
			}
		case tokRemote:
			if p := a.peer.Load(); p != nil {
				b = append(b, p.text...)
			} else {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				b = appendOr(b, host)
			}
		case tokStatus:
			b = strconv.AppendInt(b, int64(rec.status), 10)
		case tokStart:
			b = t.tf.append(b, rec.start)
		case tokEnd:
			b = t.tf.append(b, rec.end)
		case tokUser:
			if v := r.Header["Authorization"]; len(v) > 0 {
				b = appendBasicUser(b, v[0])
			}
		}
	}
	if len(b) > accessLineMax {
		n := accessLineMax - len("...")
		for k := 0; k < 3 && n > 0 && !utf8.RuneStart(b[n]); k++ {
			n-- // do not cut a character in two
		}
		b = append(b[:n], "..."...)
	}
	if len(b) == start {
		return b
	}
	return append(b, '\n')
}

// appendCut appends s, or as much of it as can still make a line too
// long (the line is cut afterwards; this bounds the buffer).
func appendCut(b []byte, s string) []byte {
	if room := accessLineMax + 1 - len(b); len(s) > room {
		s = s[:max(room, 0)]
	}
	return append(b, s...)
}

// appendOr appends s, or "-" when s is empty.
func appendOr(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendCut(b, s)
}

// appendCPU appends php-fpm's %C: CPU time over the request's duration, in
// percent with two decimals.
func appendCPU(b []byte, unit uint8, rec *accessRecord) []byte {
	var ns int64
	switch unit {
	case cpuUser:
		ns = rec.cpu1.user - rec.cpu0.user
	case cpuSystem:
		ns = rec.cpu1.sys - rec.cpu0.sys
	default:
		ns = rec.cpu1.user - rec.cpu0.user + rec.cpu1.sys - rec.cpu0.sys
	}
	pct := 0.0
	if d := rec.end.Sub(rec.start); d > 0 && ns > 0 {
		pct = float64(ns) / float64(d) * 100
	}
	return strconv.AppendFloat(b, pct, 'f', 2, 64)
}

// appendEnv appends the FastCGI param t names, or "-".
func appendEnv(b []byte, t *accessToken, r *http.Request) []byte {
	var v string
	switch t.unit {
	case envParam:
		v = fcgi.ProcessEnv(r)[t.text]
	case envHeader, envContentType:
		key := t.text
		if t.unit == envContentType {
			key = "Content-Type"
		}
		if vs := r.Header[key]; len(vs) > 0 {
			v = vs[0]
		}
	case envHost:
		v = r.Host
	case envContentLength:
		if r.ContentLength > 0 {
			return strconv.AppendInt(b, r.ContentLength, 10)
		}
	case envHTTPS:
		if r.TLS != nil {
			v = "on"
		}
	case envQuery:
		if r.URL != nil {
			return appendCut(b, r.URL.RawQuery) // sent even when empty
		}
	case envRemoteAddr:
		v, _, _ = net.SplitHostPort(r.RemoteAddr)
	case envRemotePort:
		_, v, _ = net.SplitHostPort(r.RemoteAddr)
		if v == "0" {
			v = "" // cgi.RequestFromMap's port when REMOTE_PORT is missing
		}
	case envMethod:
		v = r.Method
	case envRequestURI:
		if r.URL == nil {
			break
		}
		b = appendCut(b, r.URL.EscapedPath())
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			b = append(b, '?')
			b = appendCut(b, r.URL.RawQuery)
		}
		return b
	case envScriptName:
		if r.URL != nil {
			v = r.URL.Path
		}
	case envProtocol:
		v = r.Proto
	}
	return appendOr(b, v)
}

// base64 decoding table: 0xff marks a byte outside the alphabet.
var base64Dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// appendBasicUser appends the user of a Basic Authorization header, as
// PHP's php_handle_auth_data: "Basic " in any case, base64 decoded
// leniently (bytes outside the alphabet skipped, stopping at '='), and the
// user is what comes before the first ':'; nothing without a ':'.
func appendBasicUser(b []byte, auth string) []byte {
	if len(auth) < 6 || !strings.EqualFold(auth[:6], "Basic ") {
		return b
	}
	start := len(b)
	var acc uint32
	bits := 0
	for i := 6; i < len(auth) && len(b)-start <= accessLineMax; i++ {
		c := auth[i]
		if c == '=' {
			break
		}
		v := base64Dec[c]
		if v == 0xff {
			continue
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			b = append(b, byte(acc>>bits))
		}
	}
	for i := start; i < len(b); i++ {
		if b[i] == ':' {
			return b[:i]
		}
	}
	return b[:start]
}

// timeFormat is a compiled strftime(3) format.
type timeFormat []timePiece

// timePiece is literal text (conv 0) or one conversion.
type timePiece struct {
	conv byte
	lit  string
}

// compileTimeFormat compiles a strftime(3) format for the C locale. The
// composite conversions (%c %D %F %h %r %R %T %x %X) are expanded, the E
// and O modifiers ignored; glibc's flags and field widths are not
// supported, and such a conversion, like an unknown one, is copied as it
// is (as glibc does with an unknown one).
func compileTimeFormat(f string) timeFormat {
	var (
		tf  timeFormat
		lit []byte
	)
	var walk func(f string)
	walk = func(f string) {
		for i := 0; i < len(f); i++ {
			if f[i] != '%' || i+1 == len(f) {
				lit = append(lit, f[i])
				continue
			}
			j := i + 1
			if (f[j] == 'E' || f[j] == 'O') && j+1 < len(f) {
				j++
			}
			c := f[j]
			switch c {
			case 'c':
				walk("%a %b %e %H:%M:%S %Y")
			case 'D', 'x':
				walk("%m/%d/%y")
			case 'F':
				walk("%Y-%m-%d")
			case 'h':
				walk("%b")
			case 'r':
				walk("%I:%M:%S %p")
			case 'R':
				walk("%H:%M")
			case 'T', 'X':
				walk("%H:%M:%S")
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case '%':
				lit = append(lit, '%')
			case 'a', 'A', 'b', 'B', 'C', 'd', 'e', 'g', 'G', 'H', 'I', 'j', 'k', 'l',
				'm', 'M', 'p', 'P', 's', 'S', 'u', 'U', 'V', 'w', 'W', 'y', 'Y', 'z', 'Z':
				if len(lit) > 0 {
					tf = append(tf, timePiece{lit: string(lit)})
					lit = lit[:0]
				}
				tf = append(tf, timePiece{conv: c})
			default:
				lit = append(lit, f[i:j+1]...)
			}
			i = j
		}
	}
	walk(f)
	if len(lit) > 0 {
		tf = append(tf, timePiece{lit: string(lit)})
	}
	return tf
}

var (
	shortDays   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// append formats t.
func (tf timeFormat) append(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	wday := int(t.Weekday())
	yday := t.YearDay() - 1
	for _, p := range tf {
		switch p.conv {
		case 0:
			b = append(b, p.lit...)
		case 'a':
			b = append(b, shortDays[wday]...)
		case 'A':
			b = append(b, longDays[wday]...)
		case 'b':
			b = append(b, shortMonths[month-1]...)
		case 'B':
			b = append(b, longMonths[month-1]...)
		case 'C':
			b = append2(b, floorDiv(year, 100), '0')
		case 'd':
			b = append2(b, day, '0')
		case 'e':
			b = append2(b, day, ' ')
		case 'g':
			y, _ := t.ISOWeek()
			b = append2(b, y-100*floorDiv(y, 100), '0')
		case 'G':
			y, _ := t.ISOWeek()
			b = appendYear(b, y)
		case 'H':
			b = append2(b, hour, '0')
		case 'I':
			b = append2(b, hour12(hour), '0')
		case 'j':
			b = append(b, byte('0'+(yday+1)/100))
			b = append2(b, (yday+1)%100, '0')
		case 'k':
			b = append2(b, hour, ' ')
		case 'l':
			b = append2(b, hour12(hour), ' ')
		case 'm':
			b = append2(b, int(month), '0')
		case 'M':
			b = append2(b, minute, '0')
		case 'p':
			if hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'P':
			if hour < 12 {
				b = append(b, "am"...)
			} else {
				b = append(b, "pm"...)
			}
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'S':
			b = append2(b, sec, '0')
		case 'u':
			b = append(b, byte('0'+(wday+6)%7+1))
		case 'U':
			b = append2(b, (yday+7-wday)/7, '0')
		case 'V':
			_, w := t.ISOWeek()
			b = append2(b, w, '0')
		case 'w':
			b = append(b, byte('0'+wday))
		case 'W':
			b = append2(b, (yday+7-(wday+6)%7)/7, '0')
		case 'y':
			b = append2(b, year-100*floorDiv(year, 100), '0')
		case 'Y':
			b = appendYear(b, year)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			b = append(b, sign)
			b = append2(b, off/3600, '0')
			b = append2(b, off/60%60, '0')
		case 'Z':
			name, _ := t.Zone()
			b = append(b, name...)
		}
	}
	return b
}

// append2 appends 0 ≤ v < 100 on two characters, padded with pad (other
// values in full).
func append2(b []byte, v int, pad byte) []byte {
	if v < 0 || v >= 100 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	if v < 10 {
		return append(b, pad, byte('0'+v))
	}
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func appendYear(b []byte, y int) []byte {
	if y >= 0 && y < 1000 {
		b = append(b, byte('0'+y/100/10))
		b = append(b, byte('0'+y/100%10))
		return append2(b, y%100, '0')
	}
	return strconv.AppendInt(b, int64(y), 10)
}

func hour12(h int) int {
	if h%12 == 0 {
		return 12
	}
	return h % 12
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// AccessLogger writes php-fpm style access lines for any http.Handler. The
// master's HTTP front uses it for pools whose workers write no line of
// their own (php-cgi, libfcgi, ...). %R is the client's address from
// r.RemoteAddr, %p the writing process (the master).
type AccessLogger struct{ a *accessLog }

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
	return l.a.wrap(h)
}

// accessErrEvery is how often at most a worker reports that its access
// log cannot be written (a full disk would otherwise mean a line per
// request).
const accessErrEvery = time.Minute

// writeFailed reports a failed access log write on stderr (the master's
// log with catch_workers_output), once per accessErrEvery.
func (a *accessLog) writeFailed(err error) {
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
