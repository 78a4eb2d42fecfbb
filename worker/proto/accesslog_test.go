package proto

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"golang.org/x/sys/unix"
)

// captureRequest sends params (and body) to a net/http/fcgi server and
// returns the *http.Request its handler got: a request exactly as a worker
// sees it, with the params net/http/fcgi keeps in its context.
func captureRequest(tb testing.TB, params map[string]string, body string) *http.Request {
	tb.Helper()
	dir, err := os.MkdirTemp("", "alog")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *http.Request, 1)
	go stdfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &fcgi.Request{Params: params}
	if body != "" {
		req.Body, req.ContentLength = strings.NewReader(body), int64(len(body))
	}
	resp, err := (&fcgi.Client{Network: "unix", Address: sock}).Do(ctx, req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case r := <-got:
		return r
	case <-ctx.Done():
		tb.Fatal("the handler never ran")
		return nil
	}
}

const testUser = `al"i<ce>`

// fixedParams is the fixed request of the format table.
func fixedParams() map[string]string {
	return map[string]string{
		"REQUEST_METHOD":       "POST",
		"REQUEST_URI":          "/app/index.php?a=1&b=2",
		"SCRIPT_NAME":          "/app/index.php",
		"SCRIPT_FILENAME":      "/srv/www/app/index.php",
		"PATH_INFO":            "/extra",
		"QUERY_STRING":         "a=1&b=2",
		"SERVER_PROTOCOL":      "HTTP/1.1",
		"HTTP_HOST":            "example.test",
		"HTTP_USER_AGENT":      "curl/8.5",
		"HTTP_X_FORWARDED_FOR": "10.0.0.1",
		"HTTP_AUTHORIZATION":   "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":s:e")),
		"CONTENT_TYPE":         "text/plain",
		"REMOTE_ADDR":          "198.51.100.7",
		"REMOTE_PORT":          "51234",
		"REMOTE_USER":          "bob",
		"APP_ENV":              "prod",
	}
}

// The fixed clocks: the request starts at t0 and lasts 1.234567 s, uses
// 0.5 s of user and 0.1 s of system CPU; the heap holds 7344128 bytes.
var (
	t0      = time.Date(2026, 11, 26, 0, 47, 51, 0, time.FixedZone("CET", 3600))
	t1      = t0.Add(1234567 * time.Microsecond)
	cpuFrom = cpuTimes{user: 1e9, sys: 5e8}
	cpuTo   = cpuTimes{user: 15e8, sys: 6e8}
)

// countWriter counts Write calls.
type countWriter struct {
	bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// fixedLog compiles format into a log with the fixed clocks, pid 14978,
// ppid 14974 and pool "www".
func fixedLog(t testing.TB, format string, out io.Writer) *AccessLog {
	t.Helper()
	tokens, err := compileAccessFormat(format)
	if err != nil {
		t.Fatalf("%q: %v", format, err)
	}
	a := newAccessLog(out, tokens)
	a.pid, a.ppid, a.pool = 14978, 14974, "www"
	a.now = func(end bool) time.Time {
		if end {
			return t1
		}
		return t0
	}
	var m int
	a.cpuNow = func() cpuTimes {
		m++
		if m%2 == 1 {
			return cpuFrom
		}
		return cpuTo
	}
	a.memNow = func() uint64 { return 7344128 }
	return a
}

// TestAccessLogLines: several requests through one log, records reused.
func TestAccessLogLines(t *testing.T) {
	full := captureRequest(t, fixedParams(), "hello")
	out := &countWriter{}
	a := fixedLog(t, "%s %{X-Cache}o", out)
	for _, h := range []http.Handler{notFound, silent, bodyOnly, silent} {
		a.Wrap(h).ServeHTTP(httptest.NewRecorder(), full)
	}
	if want := "404 HIT\n200 -\n200 MISS\n200 -\n"; out.String() != want || out.writes != 4 {
		t.Errorf("got %q in %d writes, want %q", out.String(), out.writes, want)
	}
}

// TestAccessLogNil: a nil log is off.
func TestAccessLogNil(t *testing.T) {
	var a *AccessLog
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := a.Wrap(h); got == nil {
		t.Fatal("wrap returned nil")
	}
	a.Accepted(&fakeConn{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAccessLogResponseController: the wrapper unwraps for
// http.ResponseController.
func TestAccessLogResponseController(t *testing.T) {
	a := fixedLog(t, "%s", io.Discard)
	rw := httptest.NewRecorder()
	a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
	})).ServeHTTP(rw, httptest.NewRequest("GET", "/", nil))
	if !rw.Flushed {
		t.Error("not flushed")
	}
}

type fakeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *fakeConn) LocalAddr() net.Addr  { return c.local }
func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }

func tcpAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// TestAccessLogPeer: %R is the FastCGI peer's IP, "-" over a Unix socket.
func TestAccessLogPeer(t *testing.T) {
	r := captureRequest(t, fixedParams(), "")
	a := fixedLog(t, "%R", io.Discard)
	unixAddr := &net.UnixAddr{Name: "/run/w.sock", Net: "unix"}
	lo := tcpAddr("127.0.0.1:9000")
	for _, tc := range []struct {
		c    net.Conn
		want string
	}{
		{&fakeConn{local: lo, remote: lo}, "198.51.100.7"}, // peer unknown: REMOTE_ADDR
		{&fakeConn{local: lo, remote: tcpAddr("192.0.2.1:5000")}, "192.0.2.1"},
		{&fakeConn{local: lo, remote: lo}, "192.0.2.1"}, // unknown: the last known
		{&fakeConn{local: tcpAddr("[::1]:9000"), remote: tcpAddr("[::1]:5000")}, "::1"},
		{&fakeConn{local: lo, remote: tcpAddr("[::ffff:10.1.2.3]:5000")}, "10.1.2.3"},
		{&fakeConn{local: unixAddr, remote: &net.UnixAddr{Net: "unix"}}, "-"},
		{&fakeConn{local: unixAddr, remote: unixAddr}, "-"}, // the Linux listener's conns
	} {
		a.Accepted(tc.c)
		b := a.appendLine(nil, &accessRecord{}, r)
		if got := string(b); got != tc.want+"\n" {
			t.Errorf("%v → %v: got %q, want %q", tc.c.RemoteAddr(), tc.c.LocalAddr(), got, tc.want)
		}
	}
	c := &fakeConn{local: lo, remote: tcpAddr("192.0.2.1:5000")}
	if n := testing.AllocsPerRun(100, func() { a.Accepted(c) }); n > 1 {
		t.Errorf("accepted: %v allocations for the same peer", n)
	}
}

// raceEnabled reports whether the test binary was built with -race (which
// makes sync.Pool drop items, so allocation counts mean nothing).
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

var textPlain = []string{"text/plain"}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

var benchFormats = []struct{ name, format string }{
	{"default", defaultAccessFormat},
	{"wwwconf", `%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%`},
	{"every", `%R %u %t %T "%m %r%Q%q" %s %f %l %d %{micro}d %M %C %n %p %P %{HTTP_HOST}e %{REQUEST_URI}e %{APP_ENV}e %{Content-Type}o %{%Y-%m-%dT%H:%M:%S%z}t`},
}

// TestAccessLogNoAllocs: a line costs no allocation (real clocks, CPU and
// memory readings included).
func TestAccessLogNoAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("allocation counts are meaningless with -race")
	}
	r := captureRequest(t, fixedParams(), "")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = textPlain
		w.WriteHeader(200)
	})
	for _, f := range benchFormats {
		tokens, err := compileAccessFormat(f.format)
		if err != nil {
			t.Fatal(err)
		}
		a := newAccessLog(io.Discard, tokens)
		a.Accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr("127.0.0.1:5000")})
		wh := a.Wrap(h)
		w := &nopWriter{h: http.Header{}}
		if n := testing.AllocsPerRun(200, func() { wh.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("%s: %v allocations per line", f.name, n)
		}
	}
}

func BenchmarkAccessLogLine(b *testing.B) {
	r := captureRequest(b, fixedParams(), "")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = textPlain
		w.WriteHeader(200)
	})
	file, err := os.OpenFile(filepath.Join(b.TempDir(), "access.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	for _, f := range benchFormats {
		for _, out := range []struct {
			name string
			w    io.Writer
		}{{"discard", io.Discard}, {"file", file}} {
			b.Run(f.name+"/"+out.name, func(b *testing.B) {
				tokens, err := compileAccessFormat(f.format)
				if err != nil {
					b.Fatal(err)
				}
				a := newAccessLog(out.w, tokens)
				a.Accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr("127.0.0.1:5000")})
				wh := a.Wrap(h)
				w := &nopWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					wh.ServeHTTP(w, r)
				}
			})
		}
	}
	b.Run("handler-only", func(b *testing.B) { // the baseline without a log
		w := &nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
}

// TestAccessLogOpen: the environment contract.
func TestAccessLogOpen(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		t.Setenv(EnvAccessLogFD, "")
		os.Unsetenv(EnvAccessLogFD)
		if a, err := OpenAccessLog(); a != nil || err != nil {
			t.Fatalf("got %v, %v without %s", a, err, EnvAccessLogFD)
		}
	})
	// dupOf returns a new fd open on path with flag; it is closed by the
	// test unless OpenAccessLog took it.
	dupOf := func(t *testing.T, flag int) int {
		f, err := os.OpenFile(filepath.Join(t.TempDir(), "a.log"), flag|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	for _, tc := range []struct {
		fd     string
		flag   int // with fd "": a new fd open with this flag
		format string
		err    string
	}{
		{fd: "x", err: "is not a file descriptor"},
		{fd: "-1", err: "is not a file descriptor"},
		{fd: "987654", err: "access log fd 987654: bad file descriptor"},
		{flag: os.O_RDONLY, err: "is not open for writing"},
		{flag: os.O_WRONLY | os.O_APPEND, format: "%Z", err: "invalid token %Z"},
	} {
		t.Run(tc.err, func(t *testing.T) {
			fd := -1
			if tc.fd == "" {
				fd = dupOf(t, tc.flag)
				tc.fd = strconv.Itoa(fd)
			}
			t.Setenv(EnvAccessLogFD, tc.fd)
			t.Setenv(EnvAccessFormat, tc.format)
			a, err := OpenAccessLog()
			if a != nil || err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, %v, want an error with %q", a, err, tc.err)
			}
			if fd >= 0 {
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
					unix.Close(fd)
					t.Error("the fd was left open")
				}
			}
		})
	}
	t.Run("default format", func(t *testing.T) {
		fd := dupOf(t, os.O_WRONLY|os.O_APPEND)
		t.Setenv(EnvAccessLogFD, strconv.Itoa(fd))
		t.Setenv(EnvAccessFormat, "")
		a, err := OpenAccessLog()
		if err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		defer a.Close()
		want, _ := compileAccessFormat(defaultAccessFormat)
		if len(a.tokens) != len(want) {
			t.Errorf("tokens %v, want the default format's %v", a.tokens, want)
		}
		for _, k := range []string{EnvAccessLogFD, EnvAccessFormat} {
			if v, ok := os.LookupEnv(k); ok {
				t.Errorf("%s=%q still set", k, v)
			}
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd flags %#x, %v: not close-on-exec", flags, err)
		}
	})
}
