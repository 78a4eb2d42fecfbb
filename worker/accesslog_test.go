package worker

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	httpfcgi "net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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
	go httpfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
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
func fixedLog(t testing.TB, format string, out io.Writer) *accessLog {
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

// Handlers of the table.
var (
	// notFound sets headers, writes 404 and a body.
	notFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Cache", "HIT")
		w.Header()["x-raw"] = []string{"raw"}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "nope")
	})
	// silent writes nothing.
	silent = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	// bodyOnly writes a body without a status.
	bodyOnly = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache", "MISS")
		io.WriteString(w, "ok")
	})
	// late sets a header after the status, which net/http ignores.
	late = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Header().Set("X-Cache", "LATE")
	})
	// flusher flushes before writing anything.
	flusher = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache", "FLUSH")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Cache", "AFTER")
	})
)

func TestAccessLogFormat(t *testing.T) {
	full := captureRequest(t, fixedParams(), "hello")
	plainParams := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.0"}
	plain := captureRequest(t, plainParams, "")
	const peerNone = "none"
	for _, tc := range []struct {
		format string
		want   string
		h      http.Handler  // notFound when nil
		r      *http.Request // full when nil
		peer   string        // "-" when empty; peerNone: accepted never called
	}{
		// php-fpm's default, and the example of its www.conf.
		{format: `%R - %u %t "%m %r" %s`, want: `- - al"i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, peer: peerNone, want: `198.51.100.7 - al"i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, peer: "127.0.0.1", want: `127.0.0.1 - al"i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, r: plain, h: silent, want: `- -  26/Nov/2026:00:47:51 +0100 "GET /" 200`},
		{format: `%R - %u %t "%m %r" %s`, r: plain, h: silent, peer: peerNone, want: `- -  26/Nov/2026:00:47:51 +0100 "GET /" 200`},
		{
			format: `%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%`,
			want:   `- - al"i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php?a=1&b=2" 404 /srv/www/app/index.php 1234.567 7172 48.60%`,
		},

		// %C
		{format: "%C", want: "48.60"},
		{format: "%{total}C", want: "48.60"},
		{format: "%{user}C", want: "40.50"},
		{format: "%{system}C", want: "8.10"},
		// %d
		{format: "%d", want: "1.235"},
		{format: "%{seconds}d", want: "1.235"},
		{format: "%{milliseconds}d %{milli}d %{miliseconds}d %{mili}d", want: "1234.567 1234.567 1234.567 1234.567"},
		{format: "%{microseconds}d %{micro}d", want: "1234567 1234567"},
		// %e: kept params, and the ones net/http/fcgi consumes.
		{format: "%{APP_ENV}e %{REMOTE_USER}e %{SCRIPT_FILENAME}e %{NOPE}e", want: "prod bob /srv/www/app/index.php -"},
		{format: "%{REMOTE_ADDR}e %{REMOTE_PORT}e", want: "198.51.100.7 51234"},
		{format: "%{HTTP_HOST}e %{HTTP_USER_AGENT}e %{HTTP_X_FORWARDED_FOR}e %{HTTP_NOPE}e", want: "example.test curl/8.5 10.0.0.1 -"},
		{format: "%{REQUEST_METHOD}e %{REQUEST_URI}e %{QUERY_STRING}e %{SCRIPT_NAME}e", want: "POST /app/index.php?a=1&b=2 a=1&b=2 /app/index.php"},
		{format: "%{CONTENT_TYPE}e %{CONTENT_LENGTH}e %{SERVER_PROTOCOL}e", want: "text/plain 5 HTTP/1.1"},
		{format: "%{HTTPS}e %{PATH_INFO}e %{REMOTE_HOST}e", want: "- - -"},
		{format: "%{REMOTE_ADDR}e %{REMOTE_PORT}e %{CONTENT_LENGTH}e [%{QUERY_STRING}e] %{HTTP_HOST}e", r: plain, want: "- - - [] -"},
		// %f %l %m
		{format: "%f %l %m", want: "/srv/www/app/index.php 5 POST"},
		{format: "%f %l %m", r: plain, want: "- 0 GET"},
		// %M
		{format: "%M %{bytes}M", want: "7344128 7344128"},
		{format: "%{kilobytes}M %{kilo}M", want: "7172 7172"},
		{format: "%{megabytes}M %{mega}M", want: "7 7"},
		// %n %p %P
		{format: "%n %p %P", want: "www 14978 14974"},
		// %o: as the handler set them when it wrote the status.
		{format: "%{Content-Type}o|%{X-Cache}o|%{x-cache}o|%{x-raw}o|%{Date}o|%{X-None}o", want: "text/plain; charset=utf-8|HIT|HIT|raw|-|-"},
		{format: "%{Content-Type}o %{X-Cache}o %s", h: silent, want: "- - 200"},
		{format: "%{Content-Type}o %{X-Cache}o %s", h: bodyOnly, want: "- MISS 200"},
		{format: "%{X-Cache}o %s", h: late, want: "- 500"},
		{format: "%{X-Cache}o %s", h: flusher, want: "FLUSH 200"},
		// %q %Q %r
		{format: "%r%Q%q", want: "/app/index.php?a=1&b=2"},
		{format: "[%r%Q%q]", r: plain, want: "[/]"},
		// %s
		{format: "%s", want: "404"},
		// %t %T
		{format: "%t|%T", want: "26/Nov/2026:00:47:51 +0100|26/Nov/2026:00:47:52 +0100"},
		{format: "%{}t", want: "26/Nov/2026:00:47:51 +0100"},
		{format: "%{%Y-%m-%dT%H:%M:%S%z}t", want: "2026-11-26T00:47:51+0100"},
		{format: "%{%s}T %{%H:%M:%S %Z}T", want: "1795650472 00:47:52 CET"},
		// %u
		{format: "[%u]", r: plain, want: "[]"},
		// %% and literals
		{format: "%%", want: "%"},
		{format: "pct=%%%C%% lit", want: "pct=%48.60% lit"},
		{format: "no tokens at all", want: "no tokens at all"},
		{format: "", want: ""},
		{format: "%u%q", r: plain, want: ""},
	} {
		out := &countWriter{}
		a := fixedLog(t, tc.format, out)
		switch tc.peer {
		case peerNone:
		case "":
			a.accepted(&fakeConn{local: &net.UnixAddr{Name: "/run/w.sock", Net: "unix"}, remote: &net.UnixAddr{Net: "unix"}})
		default:
			a.accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr(tc.peer + ":40000")})
		}
		h, r, checkAnswer := tc.h, tc.r, tc.h == nil
		if h == nil {
			h = notFound
		}
		if r == nil {
			r = full
		}
		rw := httptest.NewRecorder()
		a.wrap(h).ServeHTTP(rw, r)
		want, writes := tc.want+"\n", 1
		if tc.want == "" {
			want, writes = "", 0 // no empty lines
		}
		if got := out.String(); got != want || out.writes != writes {
			t.Errorf("%s:\n got %q in %d writes\nwant %q", tc.format, got, out.writes, want)
		}
		if checkAnswer && (rw.Code != 404 || rw.Body.String() != "nope") {
			t.Errorf("%s: the handler's answer was %d %q", tc.format, rw.Code, rw.Body)
		}
	}
}

// TestAccessLogLines: several requests through one log, records reused.
func TestAccessLogLines(t *testing.T) {
	full := captureRequest(t, fixedParams(), "hello")
	out := &countWriter{}
	a := fixedLog(t, "%s %{X-Cache}o", out)
	for _, h := range []http.Handler{notFound, silent, bodyOnly, silent} {
		a.wrap(h).ServeHTTP(httptest.NewRecorder(), full)
	}
	if want := "404 HIT\n200 -\n200 MISS\n200 -\n"; out.String() != want || out.writes != 4 {
		t.Errorf("got %q in %d writes, want %q", out.String(), out.writes, want)
	}
}

// TestAccessLogNil: a nil log is off.
func TestAccessLogNil(t *testing.T) {
	var a *accessLog
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := a.wrap(h); got == nil {
		t.Fatal("wrap returned nil")
	}
	a.accepted(&fakeConn{})
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
}

// TestAccessLogResponseController: the wrapper unwraps for
// http.ResponseController.
func TestAccessLogResponseController(t *testing.T) {
	a := fixedLog(t, "%s", io.Discard)
	rw := httptest.NewRecorder()
	a.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
	})).ServeHTTP(rw, httptest.NewRequest("GET", "/", nil))
	if !rw.Flushed {
		t.Error("not flushed")
	}
}

func TestAccessLogStrftime(t *testing.T) {
	zone := time.FixedZone("XST", -(3*3600 + 30*60))
	// Expected values from glibc's strftime (TZ=XST3:30).
	for _, tc := range []struct {
		when time.Time
		want []string // for the formats below, in order
	}{
		{time.Date(2026, 1, 4, 13, 5, 9, 0, zone), []string{
			"Sun Sunday Jan January Jan", "20 04  4 01/04/26 2026-01-04", "26 2026 01",
			"13 01 13  1 05 09 PM pm", "004 01 7 0 01 00", "26 2026 -0330 XST", "1767544509",
			"Sun Jan  4 13:05:09 2026", "01/04/26 13:05:09", "01:05:09 PM 13:05 13:05:09",
			"\n\t%", "26 04 20", "%q %-d", "50%",
		}},
		{time.Date(2027, 1, 1, 0, 7, 3, 0, zone), []string{
			"Fri Friday Jan January Jan", "20 01  1 01/01/27 2027-01-01", "26 2026 53",
			"00 12  0 12 07 03 AM am", "001 01 5 5 00 00", "27 2027 -0330 XST", "1798774623",
			"Fri Jan  1 00:07:03 2027", "01/01/27 00:07:03", "12:07:03 AM 00:07 00:07:03",
			"\n\t%", "27 01 20", "%q %-d", "50%",
		}},
	} {
		formats := []string{
			"%a %A %b %B %h", "%C %d %e %D %F", "%g %G %V", "%H %I %k %l %M %S %p %P",
			"%j %m %u %w %U %W", "%y %Y %z %Z", "%s", "%c", "%x %X", "%r %R %T",
			"%n%t%%", "%Ey %Od %EC", "%q %-d", "50%",
		}
		for i, f := range formats {
			if got := string(compileTimeFormat(f).append(nil, tc.when)); got != tc.want[i] {
				t.Errorf("%s %q = %q, want %q", tc.when, f, got, tc.want[i])
			}
		}
	}
	// Years outside 0..9999 and a positive offset with minutes.
	ist := time.FixedZone("IST", 5*3600+30*60)
	for _, tc := range []struct {
		when   time.Time
		format string
		want   string
	}{
		{time.Date(999, 3, 1, 0, 0, 0, 0, ist), "%Y %C %y %z", "0999 09 99 +0530"},
		{time.Date(12345, 3, 1, 0, 0, 0, 0, time.UTC), "%Y %C %y %z", "12345 123 45 +0000"},
	} {
		if got := string(compileTimeFormat(tc.format).append(nil, tc.when)); got != tc.want {
			t.Errorf("%s %q = %q, want %q", tc.when, tc.format, got, tc.want)
		}
	}
}

// TestAccessLogLineLimit: lines are at most 1024 bytes plus the newline;
// longer ones end with "...".
func TestAccessLogLineLimit(t *testing.T) {
	long := strings.Repeat("a", 5000)
	params := fixedParams()
	params["HTTP_X_LONG"] = long
	params["APP_LONG"] = long
	r := captureRequest(t, params, "")
	for _, tc := range []struct {
		format string
		want   string
	}{
		{strings.Repeat("x", 1024), strings.Repeat("x", 1024)},
		{strings.Repeat("x", 1025), strings.Repeat("x", 1021) + "..."},
		{strings.Repeat("x", 1023) + "%s", strings.Repeat("x", 1021) + "..."},
		{"%{HTTP_X_LONG}e", strings.Repeat("a", 1021) + "..."},
		{"%{APP_LONG}e %s %{HTTP_X_LONG}e", strings.Repeat("a", 1021) + "..."},
		{"%s %{HTTP_X_LONG}e", "404 " + strings.Repeat("a", 1017) + "..."},
		// A character is not cut in two.
		{strings.Repeat("x", 1020) + "éééé", strings.Repeat("x", 1020) + "..."},
	} {
		out := &countWriter{}
		fixedLog(t, tc.format, out).wrap(notFound).ServeHTTP(httptest.NewRecorder(), r)
		if got := out.String(); got != tc.want+"\n" || out.writes != 1 {
			t.Errorf("%.20s…: got %d bytes %.30q…%q, want %d bytes", tc.format, len(got), got, got[max(len(got)-10, 0):], len(tc.want)+1)
		}
	}
}

func TestAccessLogBadFormat(t *testing.T) {
	for _, tc := range []struct{ format, err string }{
		{"%R %Z", "invalid token %Z"},
		{"%é", "invalid token %é"},
		{"%{x}s", "embrace is not allowed for modifier %s"},
		{"%{x}%", "embrace is not allowed for modifier %%"},
		{"%e", "%e needs an argument, as in %{NAME}e"},
		{"%{}o", "%o needs an argument, as in %{NAME}o"},
		{"%{hours}d", "%{hours}d: the argument must be one of seconds, milliseconds, milli, miliseconds, mili, microseconds, micro"},
		{"%{}C", "%{}C: the argument must be one of total, user, system"},
		{"%{KILO}M", "%{KILO}M: the argument must be one of bytes, kilobytes, kilo, megabytes, mega"},
		{"abc%", "the format ends in the middle of a token (write %% for a literal %)"},
		{"%{kilo}", "the format ends in the middle of a token (write %% for a literal %)"},
		{"%{abc", `missing "}" after "%{abc"`},
	} {
		_, err := compileAccessFormat(tc.format)
		if err == nil || err.Error() != "worker: access format: "+tc.err {
			t.Errorf("%q: error %v, want %q", tc.format, err, tc.err)
		}
	}
}

// fakeConn is a net.Conn with the given addresses.
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
		a.accepted(tc.c)
		b := a.appendLine(nil, &accessRecord{}, r)
		if got := string(b); got != tc.want+"\n" {
			t.Errorf("%v → %v: got %q, want %q", tc.c.RemoteAddr(), tc.c.LocalAddr(), got, tc.want)
		}
	}
	c := &fakeConn{local: lo, remote: tcpAddr("192.0.2.1:5000")}
	if n := testing.AllocsPerRun(100, func() { a.accepted(c) }); n > 1 {
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
		a.accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr("127.0.0.1:5000")})
		wh := a.wrap(h)
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
				a.accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr("127.0.0.1:5000")})
				wh := a.wrap(h)
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
		if a, err := openAccessLog(); a != nil || err != nil {
			t.Fatalf("got %v, %v without %s", a, err, EnvAccessLogFD)
		}
	})
	// dupOf returns a new fd open on path with flag; it is closed by the
	// test unless openAccessLog took it.
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
			a, err := openAccessLog()
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
		a, err := openAccessLog()
		if err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		defer a.close()
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

// TestAccessLogEndToEnd: Serve with the log from the environment, on a
// temp file's fd as the master passes it; one request through the FastCGI
// client writes one line.
func TestAccessLogEndToEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "www.access.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd())) // the log owns its own fd
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAccessLogFD, strconv.Itoa(fd))
	t.Setenv(EnvAccessFormat, `%R - %u %t "%m %r%Q%q" %s %f %n %{X-Test}o %{REMOTE_ADDR}e %p %l`)
	t.Setenv(EnvPool, "www")
	a, err := openAccessLog()
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer a.close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made")
	})
	// The worker tells the log about each connection it accepts.
	peers := func(s *server) { s.ln = &peerListener{Listener: s.ln, a: a} }
	ts := startServer(t, a.wrap(h), peers)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ts.client.Do(ctx, &fcgi.Request{
		Params: map[string]string{
			"REQUEST_METHOD": "POST", "REQUEST_URI": "/hello?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
			"HTTP_HOST": "x", "SCRIPT_FILENAME": "/srv/hello", "REMOTE_ADDR": "203.0.113.9",
			"HTTP_AUTHORIZATION": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")),
		},
		Body: strings.NewReader("12345"), ContentLength: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "made" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	// The line is written before FCGI_END_REQUEST, so it is there once the
	// body has ended.
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^- - alice \d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} "POST /hello\?x=1" 201 /srv/hello www yes 203\.0\.113\.9 ` +
		strconv.Itoa(os.Getpid()) + " 5\n$")
	if !re.Match(got) {
		t.Errorf("access log:\n%q\nwant it to match %s", got, re)
	}
}

// peerListener calls accepted for each connection, as the worker's
// listener does.
type peerListener struct {
	net.Listener
	a *accessLog
}

func (l *peerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.a.accepted(c)
	}
	return c, err
}

// TestAccessLogServe: Serve opens the access log the master passes and
// writes one line per request.
func TestAccessLogServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "www.access.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := unix.Dup(int(f.Fd()))
	f.Close()
	t.Setenv(EnvAccessLogFD, strconv.Itoa(fd))
	t.Setenv(EnvAccessFormat, "")
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := ts.get(ctx, "/x?y"); r.err != nil || r.body != "ok" {
		t.Fatal(r)
	}
	got, _ := os.ReadFile(path)
	if !regexp.MustCompile(`^- -  \d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} "GET /x" 200\n$`).Match(got) {
		t.Errorf("%q", got)
	}
}
