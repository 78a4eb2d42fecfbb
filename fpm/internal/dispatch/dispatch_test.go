package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"golang.org/x/sys/unix"
)

// testWorker is a Go FastCGI worker (net/http/fcgi) on a Unix socket of
// its own, as a worker process would be.
type testWorker struct {
	id   int
	addr string
	ln   net.Listener
	mu   sync.Mutex
	hits int
}

func (w *testWorker) count() int { w.mu.Lock(); defer w.mu.Unlock(); return w.hits }

// startWorker serves h on a new socket in dir; its listener closes at the
// end of the test, or earlier with kill (the process "exits": its socket
// refuses connections).
func startWorker(t *testing.T, dir string, id int, h http.Handler) *testWorker {
	t.Helper()
	addr := filepath.Join(dir, fmt.Sprintf("w%d.sock", id))
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	w := &testWorker{id: id, addr: addr, ln: ln}
	go stdfcgi.Serve(ln, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.hits++
		w.mu.Unlock()
		rw.Header().Set("X-Worker", fmt.Sprint(id))
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() { ln.Close() })
	return w
}

func (w *testWorker) kill() { w.ln.Close() }

// echo answers with the method, the URI and the body.
var echo = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(rw, "%s %s %s", r.Method, r.URL.RequestURI(), body)
})

// startDispatcher serves cfg on a socket in dir; it is shut down at the
// end of the test.
func startDispatcher(t *testing.T, dir string, cfg Config) (*Dispatcher, *fcgi.Client) {
	t.Helper()
	d := New(cfg)
	addr := filepath.Join(dir, "pool.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	go d.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return d, &fcgi.Client{Network: "unix", Address: addr}
}

// echoPool is a dispatcher with one echo worker.
func echoPool(t *testing.T, cfg Config) (*Dispatcher, *fcgi.Client, *testWorker) {
	t.Helper()
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, cfg)
	w := startWorker(t, dir, 1, echo)
	d.AddWorker(w.id, w.addr, 0)
	return d, c, w
}

// rawConn is a client connection to the dispatcher, closed at the end of
// the test.
func rawConn(t *testing.T, c *fcgi.Client) net.Conn {
	t.Helper()
	cn, err := net.Dial("unix", c.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cn.Close() })
	return cn
}

func params(method, uri, script string) map[string]string {
	path, query, _ := strings.Cut(uri, "?")
	return map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": path, "QUERY_STRING": query,
		"SCRIPT_FILENAME": script, "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *fcgi.Client, p map[string]string, body string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &fcgi.Request{Params: p}
	if body != "" {
		req.Body, req.ContentLength = strings.NewReader(body), int64(len(body))
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do %s: %v", p["REQUEST_URI"], err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", p["REQUEST_URI"], err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestRelayRequestAndBody(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	w := startWorker(t, dir, 7, echo)
	d.AddWorker(w.id, w.addr, 0)
	a := do(t, c, params("POST", "/a.php?x=1", "/srv/a.php"), "hello")
	if a.status != 200 || a.body != "POST /a.php?x=1 hello" || a.header.Get("X-Worker") != "7" {
		t.Fatalf("answer %+v", a)
	}
	big := strings.Repeat("0123456789", 50_000) // past retainMax: streamed
	a = do(t, c, params("PUT", "/big", "/srv/big.php"), big)
	if a.status != 200 || a.body != "PUT /big "+big {
		t.Fatalf("big body: status %d, %d bytes", a.status, len(a.body))
	}
	ws := d.Workers()
	if len(ws) != 1 || ws[0].Busy || ws[0].Requests != 2 || ws[0].Last.URI != "/big" || ws[0].Last.Status != 200 || ws[0].Last.Bytes == 0 {
		t.Fatalf("workers %+v", ws)
	}
	if s := d.Stats(); s.Accepted != 2 || s.Started != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMostRecentlyIdleFirst(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	a, b := startWorker(t, dir, 1, echo), startWorker(t, dir, 2, echo)
	d.AddWorker(a.id, a.addr, 0)
	d.AddWorker(b.id, b.addr, 0) // b is the most recently idle
	for i := 0; i < 5; i++ {
		if got := do(t, c, params("GET", "/", ""), "").header.Get("X-Worker"); got != "2" {
			t.Fatalf("request %d went to worker %s, want 2", i, got)
		}
	}
	if a.count() != 0 || b.count() != 5 {
		t.Fatalf("hits a=%d b=%d", a.count(), b.count())
	}
}

func TestMaxRequestsRetires(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	a, b := startWorker(t, dir, 1, echo), startWorker(t, dir, 2, echo)
	d.AddWorker(a.id, a.addr, 0)
	d.AddWorker(b.id, b.addr, 2) // leaves after two requests, as PHP_FCGI_MAX_REQUESTS=2
	var got []string
	for range 4 {
		got = append(got, do(t, c, params("GET", "/", ""), "").header.Get("X-Worker"))
	}
	if strings.Join(got, ",") != "2,2,1,1" {
		t.Fatalf("requests went to workers %v, want 2,2 then 1,1", got)
	}
}

// blocker holds its requests until released, telling when each started.
type blocker struct {
	started chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 16), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b.started <- r.URL.Path
	<-b.release
	io.WriteString(rw, "released")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestQueueFullAndTimeout(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 1, QueueTimeout: 300 * time.Millisecond, RetryAfter: 2 * time.Second})
	bl := newBlocker()
	w := startWorker(t, dir, 1, bl)
	d.AddWorker(w.id, w.addr, 0)
	first := make(chan answer, 1)
	go func() { first <- do(t, c, params("GET", "/slow", ""), "") }()
	<-bl.started
	if ws := d.Workers(); !ws[0].Busy || ws[0].Current.URI != "/slow" {
		t.Fatalf("worker not busy with /slow: %+v", ws)
	}
	queued := make(chan answer, 1)
	go func() { queued <- do(t, c, params("GET", "/queued", ""), "") }()
	waitFor(t, "a queued request", func() bool { return d.Stats().Queued == 1 })
	// The queue is full: refused at once.
	start := time.Now()
	a := do(t, c, params("GET", "/refused", ""), "")
	if a.status != 503 || a.header.Get("Retry-After") != "2" || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("refused: %+v after %s", a, time.Since(start))
	}
	// The queued one times out.
	a = <-queued
	if a.status != 503 {
		t.Fatalf("queued past the timeout: %+v", a)
	}
	close(bl.release)
	if a := <-first; a.status != 200 || a.body != "released" {
		t.Fatalf("first: %+v", a)
	}
	if s := d.Stats(); s.Refused != 1 || s.TimedOut != 1 || s.MaxQueued != 1 || s.Queued != 0 || s.MaxBusy != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestQueuedRequestGetsFreedWorker(t *testing.T) {
	dir := t.TempDir()
	waits := make(chan struct{}, 4)
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4, OnWait: func() { waits <- struct{}{} }})
	// No worker yet (ondemand): the request waits, OnWait fires, and the
	// worker added then takes it.
	got := make(chan answer, 1)
	go func() { got <- do(t, c, params("GET", "/od", ""), "") }()
	<-waits
	w := startWorker(t, dir, 3, echo)
	d.AddWorker(w.id, w.addr, 0)
	if a := <-got; a.status != 200 || a.body != "GET /od " {
		t.Fatalf("answer %+v", a)
	}
}

func TestRetryWhenWorkerGone(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	live := startWorker(t, dir, 1, echo)
	dead := startWorker(t, dir, 2, echo)
	d.AddWorker(live.id, live.addr, 0)
	d.AddWorker(dead.id, dead.addr, 0)
	dead.kill() // its socket refuses: the request goes to the live one
	if a := do(t, c, params("GET", "/x", ""), ""); a.status != 200 || a.header.Get("X-Worker") != "1" {
		t.Fatalf("answer %+v", a)
	}
	// A worker that takes the connection and closes it unread: the kernel
	// resets it, and the request goes to another worker.
	resetAddr := filepath.Join(dir, "reset.sock")
	rl, err := net.Listen("unix", resetAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go func() {
		for {
			cn, err := rl.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1)
			cn.Read(buf) // read one byte of the request, leave the rest
			cn.Close()
		}
	}()
	d.AddWorker(9, resetAddr, 0)
	if a := do(t, c, params("GET", "/y", ""), ""); a.status != 200 || a.header.Get("X-Worker") != "1" {
		t.Fatalf("after reset: %+v", a)
	}
	if s := d.Stats(); s.Retried != 1 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
	// A POST is not run twice: the worker may have begun it.
	d.RemoveWorker(live.id)
	if a := do(t, c, params("POST", "/z", ""), "data"); a.status != 502 {
		t.Fatalf("POST to a resetting worker: %+v", a)
	}
	if s := d.Stats(); s.Retried != 1 || s.Failed != 1 {
		t.Fatalf("stats after the POST %+v", s)
	}
}

func TestDeniedExtension(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4, Extensions: []string{".php"}})
	w := startWorker(t, dir, 1, echo)
	d.AddWorker(w.id, w.addr, 0)
	if a := do(t, c, params("GET", "/secret.txt", "/srv/secret.txt"), ""); a.status != 403 || a.body != "Access denied.\n" {
		t.Fatalf("txt: %+v", a)
	}
	if a := do(t, c, params("GET", "/ok.php", "/srv/ok.php"), ""); a.status != 200 {
		t.Fatalf("php: %+v", a)
	}
	// php-cgi runs PATH_TRANSLATED over SCRIPT_FILENAME: it is checked too.
	p := params("GET", "/ok.php/x", "/srv/ok.php")
	p["PATH_TRANSLATED"] = "/srv/uploads/evil.jpg"
	if a := do(t, c, p, ""); a.status != 403 {
		t.Fatalf("PATH_TRANSLATED evil.jpg: %+v", a)
	}
	p = params("GET", "/x", "")
	p["PATH_TRANSLATED"] = "/srv/uploads/evil.jpg"
	if a := do(t, c, p, ""); a.status != 403 {
		t.Fatalf("PATH_TRANSLATED without SCRIPT_FILENAME: %+v", a)
	}
	if w.count() != 1 || d.Stats().Denied != 3 {
		t.Fatalf("hits %d, stats %+v", w.count(), d.Stats())
	}
}

func TestTerminatedWorkerAnswers504(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	// A worker that reads the request and never answers, until killed.
	addr := filepath.Join(dir, "hang.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 1)
	go func() {
		cn, err := ln.Accept()
		if err == nil {
			io.ReadFull(cn, make([]byte, 8)) // takes the request in
			conns <- cn
		}
	}()
	d.AddWorker(5, addr, 0)
	got := make(chan answer, 1)
	go func() { got <- do(t, c, params("GET", "/hang", ""), "") }()
	cn := <-conns
	waitFor(t, "the request to be busy", func() bool { ws := d.Workers(); return len(ws) == 1 && ws[0].Busy })
	d.Terminate(5)
	io.Copy(io.Discard, &timeoutReader{cn})
	cn.Close() // the process died
	if a := <-got; a.status != 504 {
		t.Fatalf("answer %+v", a)
	}
}

// timeoutReader reads what is already there.
type timeoutReader struct{ c net.Conn }

func (r *timeoutReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	return r.c.Read(p)
}

func TestKeptClientConnectionsDoNotPin(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 16})
	c.MaxIdleConns = 8 // the client keeps its connections (FCGI_KEEP_CONN)
	w := startWorker(t, dir, 1, echo)
	d.AddWorker(w.id, w.addr, 0)
	// Eight kept connections, one worker: each request finds the worker
	// free although seven other connections stay open and idle.
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				if a := do(t, c, params("GET", "/k", ""), ""); a.status != 200 {
					errs <- fmt.Sprint(a.status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("status %s", e)
	}
	if s := d.Stats(); s.Conns == 0 || s.Accepted != 64 {
		t.Fatalf("stats %+v", s)
	}
	start := time.Now()
	if a := do(t, c, params("GET", "/after", ""), ""); a.status != 200 || time.Since(start) > time.Second {
		t.Fatalf("after: %+v in %s", a, time.Since(start))
	}
}

func TestMultiplexedRequestRefused(t *testing.T) {
	_, c, _ := echoPool(t, Config{MaxQueue: 4})
	cn := rawConn(t, c)
	b := fcgi.AppendRecords(nil, fcgi.TypeGetValues, 0, fcgi.AppendPair(fcgi.AppendPair(nil, fcgi.MpxsConns, ""), fcgi.MaxConns, ""))
	b = fcgi.AppendBeginRequest(b, 1, fcgi.RoleResponder, false)
	b = fcgi.AppendBeginRequest(b, 2, fcgi.RoleResponder, false)
	b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, params("GET", "/m", "")))
	b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, nil)
	b = fcgi.AppendRecords(b, fcgi.TypeStdin, 1, nil)
	if _, err := cn.Write(b); err != nil {
		t.Fatal(err)
	}
	cn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, fcgi.MaxRecordSize)
	var sawCantMpx, sawEnd1 bool
	var values map[string]string
	for !sawEnd1 {
		rec, err := fcgi.ReadRecord(cn, buf)
		if err != nil {
			t.Fatalf("reading: %v (cant-mpx %v)", err, sawCantMpx)
		}
		switch {
		case rec.Type == fcgi.TypeGetValuesResult:
			values, _ = fcgi.ReadPairs(rec.Content, 0)
		case rec.Type == fcgi.TypeEndRequest && rec.RequestID == 2:
			_, st, _ := fcgi.ParseEndRequest(rec.Content)
			sawCantMpx = st == fcgi.StatusCantMultiplex
		case rec.Type == fcgi.TypeEndRequest && rec.RequestID == 1:
			sawEnd1 = true
		}
	}
	if !sawCantMpx || values[fcgi.MpxsConns] != "0" || values[fcgi.MaxConns] == "" {
		t.Fatalf("cant-mpx %v, values %v", sawCantMpx, values)
	}
}

// serveUnshut serves a dispatcher on a socket in dir, for a test that
// shuts it down itself; served gets Serve's result.
func serveUnshut(t *testing.T, dir string) (d *Dispatcher, addr string, served <-chan error) {
	t.Helper()
	d = New(Config{MaxQueue: 4})
	addr = filepath.Join(dir, "pool.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- d.Serve(ln) }()
	return d, addr, ch
}

func TestShutdownFinishesRequests(t *testing.T) {
	dir := t.TempDir()
	d, addr, served := serveUnshut(t, dir)
	c := &fcgi.Client{Network: "unix", Address: addr}
	bl := newBlocker()
	w := startWorker(t, dir, 1, bl)
	d.AddWorker(w.id, w.addr, 0)
	got := make(chan answer, 2)
	go func() { got <- do(t, c, params("GET", "/1", ""), "") }()
	<-bl.started
	go func() { got <- do(t, c, params("GET", "/2", ""), "") }() // waits in the queue
	waitFor(t, "a queued request", func() bool { return d.Stats().Queued == 1 })
	done := make(chan error, 1)
	go func() { done <- d.Shutdown(context.Background()) }()
	<-served // the accept loop ends at once
	if _, err := net.Dial("unix", addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with requests in flight: %v", err)
	default:
	}
	close(bl.release)
	for i := 0; i < 2; i++ {
		if a := <-got; a.status != 200 {
			t.Fatalf("answer %+v", a)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLocalAnswer(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4, LocalPaths: []string{"/status"},
		Local: func(p map[string]string) []byte {
			return []byte("Content-Type: text/plain\r\n\r\npool: " + p["QUERY_STRING"])
		}})
	a := do(t, c, params("GET", "/status?full", "/srv/status"), "")
	if a.status != 200 || a.body != "pool: full" {
		t.Fatalf("answer %+v", a)
	}
	if s := d.Stats(); s.Accepted != 1 || s.Started != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStatusScanner(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"Content-Type: text/html\r\n\r\nStatus: 500", 200},
		{"Status: 404 Not Found\r\n\r\n", 404},
		{"status:503\n\n", 503},
		{"Location: /x\r\n\r\n", 302},
		{"Location: /x\r\nStatus: 301\r\n\r\n", 301},
		{"X-Long-Header-Name-Beyond-The-Kept-Bytes: 1\r\nStatus: 201\r\n\r\n", 201},
	} {
		for split := 0; split <= len(tc.in); split++ { // any record boundary
			var s statusScanner
			s.scan([]byte(tc.in[:split]))
			s.scan([]byte(tc.in[split:]))
			if s.code() != tc.want {
				t.Fatalf("%q split at %d: %d, want %d", tc.in, split, s.code(), tc.want)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	exts := []string{".php", ".phar"}
	for script, want := range map[string]bool{"/a/b.php": true, "/a/b.phar": true, "/a/b.txt": false, "/a.php/b": false, "": true, "/x/.php": true, "/a/evil.jpg\x00.php": false} {
		if allowed(exts, script) != want {
			t.Errorf("allowed(%q) = %v", script, !want)
		}
	}
	if !allowed(nil, "/a.txt") {
		t.Error("no extensions configured: everything is allowed")
	}

}

// closingWorker serves FastCGI on ln as hello.py and hello.rb do: it
// ignores FCGI_KEEP_CONN and closes each connection after one answer, but
// only once the next request has arrived on it, the race that makes the
// kernel reset the dispatcher's connection with that request unread.
func closingWorker(ln *net.UnixListener) {
	go func() {
		for {
			cn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			keep := false
			for {
				var h [8]byte
				if _, err := io.ReadFull(cn, h[:]); err != nil {
					break
				}
				body := make([]byte, int(h[4])<<8|int(h[5])+int(h[6]))
				if _, err := io.ReadFull(cn, body); err != nil {
					break
				}
				if fcgi.RecordType(h[1]) == fcgi.TypeBeginRequest && len(body) > 2 {
					keep = body[2]&1 != 0 // FCGI_KEEP_CONN
				}
				if fcgi.RecordType(h[1]) == fcgi.TypeStdin && h[4] == 0 && h[5] == 0 {
					id := uint16(h[2])<<8 | uint16(h[3])
					out := fcgi.AppendRecords(nil, fcgi.TypeStdout, id, []byte("Status: 200 OK\r\n\r\nok"))
					out = fcgi.AppendRecords(out, fcgi.TypeStdout, id, nil)
					out = fcgi.AppendRecords(out, fcgi.TypeEndRequest, id, make([]byte, 8))
					cn.Write(out)
					break
				}
			}
			// Asked to keep the connection: wait until the next request is
			// readable, then close unread. Not asked: close at once, as
			// every worker does.
			if rc, err := cn.SyscallConn(); err == nil && keep {
				// Done once a byte is there (peeked, not read): it may have
				// come before the wait began, with no edge left to wake it.
				rc.Read(func(fd uintptr) bool {
					var b [1]byte
					n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
					return n > 0 || (err != nil && err != unix.EAGAIN)
				})
			}
			cn.Close()
		}
	}()
}

// TestWorkerClosingKeptConnection: a worker that closes the connections it
// is asked to keep loses no request, each request counts once in its row,
// and after the second such close it gets a connection per request.
func TestWorkerClosingKeptConnection(t *testing.T) {
	dir := t.TempDir()
	d, c := startDispatcher(t, dir, Config{MaxQueue: 4})
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "close.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closingWorker(ln)
	d.AddWorker(1, ln.Addr().String(), 0)
	const n = 6
	for i := range n {
		if a := do(t, c, params("GET", fmt.Sprintf("/r%d", i), ""), ""); a.status != 200 || a.body != "ok" {
			t.Fatalf("request %d: %+v", i, a)
		}
	}
	ws := d.Workers()
	if len(ws) != 1 || ws[0].Requests != n {
		t.Fatalf("workers %+v, want 1 with %d requests", ws, n)
	}
	// Two requests crossed a close, then the worker's connections are
	// not kept any more.
	if s := d.Stats(); s.Retried != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A client that goes away in the middle of a large body must not hold the
// worker: the worker waits for the rest of the body, so the dispatcher
// has to end the worker's connection for it.
func TestAbortedUploadFreesWorker(t *testing.T) {
	d, c, w := echoPool(t, Config{MaxQueue: 4})
	cn := rawConn(t, c)
	p := params("POST", "/upload", "/srv/u.php")
	p["CONTENT_LENGTH"] = "1000000" // past retainMax: given to the worker before the body ends
	b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, p))
	b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, nil)
	b = fcgi.AppendRecords(b, fcgi.TypeStdin, 1, make([]byte, 200_000))
	if _, err := cn.Write(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upload to reach the worker", func() bool { return w.count() == 1 })
	cn.Close()
	waitFor(t, "the worker to be idle again", func() bool {
		ws := d.Workers()
		return len(ws) == 1 && !ws[0].Busy
	})
	if a := do(t, c, params("GET", "/next", "/srv/n.php"), ""); a.status != 200 || a.body != "GET /next " {
		t.Fatalf("next: %+v", a)
	}
	if s := d.Stats(); s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Connections that send large params and stall are refused once the
// requests held over all connections pass MaxHeld; what they held is
// given back when they end.
func TestMaxHeldBoundsStalledParams(t *testing.T) {
	d, c, _ := echoPool(t, Config{MaxQueue: 4, MaxHeld: 200_000})
	stall := func() net.Conn {
		cn := rawConn(t, c)
		b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
		b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, fcgi.AppendPair(nil, "X", strings.Repeat("x", 80_000)))
		if _, err := cn.Write(b); err != nil {
			t.Fatal(err)
		}
		return cn
	}
	first, second := stall(), stall()
	waitFor(t, "two stalled requests held", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.held >= 160_000
	})
	third := stall()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third stalled connection: %d bytes, %v; want it closed", n, err)
	}
	first.Close()
	second.Close()
	waitFor(t, "the held bytes given back", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.held == 0
	})
	if a := do(t, c, params("GET", "/next", "/srv/n.php"), ""); a.status != 200 {
		t.Fatalf("next: %+v", a)
	}
}

// Past MaxConns open client connections the dispatcher accepts no more:
// the next client waits in the listen queue (no file descriptor of the
// master is spent on it) until a connection closes, and is served then.
func TestMaxConnsWaitInListenQueue(t *testing.T) {
	d, c, _ := echoPool(t, Config{MaxQueue: 4, MaxConns: 2})
	first, _ := rawConn(t, c), rawConn(t, c)
	waitFor(t, "two open connections", func() bool { return d.Stats().Conns == 2 })
	third := make(chan answer, 1)
	go func() { third <- do(t, c, params("GET", "/third", "/srv/t.php"), "") }()
	select {
	case a := <-third:
		t.Fatalf("a third connection was served past MaxConns: %+v", a)
	case <-time.After(200 * time.Millisecond):
	}
	if n := d.Stats().Conns; n != 2 {
		t.Fatalf("%d connections open, want 2", n)
	}
	first.Close()
	if a := <-third; a.status != 200 || a.body != "GET /third " {
		t.Fatalf("third: %+v", a)
	}
}

// TestShutdownReadsFirstRequest: a connection accepted before Shutdown
// whose first request comes only after Shutdown began is served, not
// closed unread (which resets the request: nginx's 502 "Connection reset
// by peer" in a reload under load); a kept connection idle between
// requests is closed at once.
func TestShutdownReadsFirstRequest(t *testing.T) {
	dir := t.TempDir()
	d, addr, served := serveUnshut(t, dir)
	w := startWorker(t, dir, 1, echo)
	d.AddWorker(w.id, w.addr, 0)
	kept := &fcgi.Client{Network: "unix", Address: addr, MaxIdleConns: 1}
	// Referenced to the end: an unreachable client's idle connection is
	// closed by the garbage collector (its file's cleanup), which ended the
	// kept connection early under -race, before Shutdown could.
	defer kept.CloseIdleConnections()
	if a := do(t, kept, params("GET", "/kept", ""), ""); a.status != 200 {
		t.Fatalf("kept: %+v", a)
	}
	fresh, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	waitFor(t, "both connections served", func() bool { return d.Stats().Conns == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Shutdown(ctx) }()
	<-served
	waitFor(t, "the kept connection closed, the fresh one told its wait", func() bool {
		return d.Stats().Conns == 1 && firstWaitBounded(d) || d.Stats().Conns == 0
	})
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned before the fresh connection's request: %v", err)
	default:
	}
	c := &fcgi.Client{Dial: func(context.Context) (net.Conn, error) { return fresh, nil }}
	if a := do(t, c, params("GET", "/late", ""), ""); a.status != 200 || a.body != "GET /late " {
		t.Fatalf("the request sent after Shutdown began: %+v", a)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// firstWaitBounded reports whether every connection waiting for its first
// request has been given its deadline by Shutdown.
func firstWaitBounded(d *Dispatcher) bool {
	d.mu.Lock()
	conns := make([]*clientConn, 0, len(d.conns))
	for cc := range d.conns {
		conns = append(conns, cc)
	}
	d.mu.Unlock()
	for _, cc := range conns {
		cc.mu.Lock()
		ok := cc.idle && cc.timed
		cc.mu.Unlock()
		if !ok {
			return false
		}
	}
	return len(conns) > 0
}

// TestRequestFields: what OnDone is told of a request, with and without
// the map of every param (Config.Params, for the access log).
func TestRequestFields(t *testing.T) {
	for _, withParams := range []bool{false, true} {
		t.Run(fmt.Sprintf("Params=%v", withParams), func(t *testing.T) {
			done := make(chan Request, 4)
			_, c, _ := echoPool(t, Config{MaxQueue: 4, Params: withParams, OnDone: func(r *Request) { done <- *r }})
			p := params("POST", "/a.php?x=1", "/srv/a.php")
			p["REMOTE_USER"], p["CONTENT_LENGTH"], p["HTTP_X_TRACE"] = "alice", "5", "t1"
			for i := range 2 { // the second is served from the connection's string cache
				if a := do(t, c, p, "hello"); a.status != 200 {
					t.Fatalf("answer %+v", a)
				}
				r := <-done
				if r.Method != "POST" || r.URI != "/a.php" || r.Query != "x=1" || r.Script != "/srv/a.php" ||
					r.User != "alice" || r.Remote != "127.0.0.1" || r.ContentLength != 5 || r.Status != 200 || r.Outcome != Relayed {
					t.Fatalf("request %d: %+v", i, r)
				}
				if got := r.Params["HTTP_X_TRACE"]; withParams && got != "t1" || !withParams && r.Params != nil {
					t.Fatalf("request %d: Params %v", i, r.Params)
				}
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "0": 0, "42": 42, "x": 0, "-1": -1, "99999999999999999999": math.MaxInt64} {
		if got := parseLength([]byte(in)); got != want {
			t.Errorf("parseLength(%q) = %d, want %d", in, got, want)
		}
	}
}
