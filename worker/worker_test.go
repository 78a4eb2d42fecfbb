package worker

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// testServer runs Serve on a Unix socket in a short temp dir.
type testServer struct {
	sock   string
	stop   chan struct{}
	served chan error
	client *fcgi.Client
}

func startServer(t testing.TB, h http.Handler, opts ...Option) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "worker")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "w.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{sock: sock, stop: make(chan struct{}), served: make(chan error, 1),
		client: &fcgi.Client{Network: "unix", Address: sock}}
	opts = append([]Option{withListener(ln), withStop(ts.stop), WithMaxRequests(0), WithConcurrency(1)}, opts...)
	go func() { ts.served <- Serve(h, opts...) }()
	t.Cleanup(func() {
		select {
		case <-ts.stop:
		default:
			close(ts.stop)
		}
		select {
		case <-ts.served:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return ts
}

type result struct {
	code int
	body string
	err  error
}

func (ts *testServer) get(ctx context.Context, uri string) result {
	resp, err := ts.client.Do(ctx, &fcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "x",
	}})
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), err}
}

// expectServed fails t unless a GET of uri on a new connection is
// answered 200 with body.
func (ts *testServer) expectServed(t testing.TB, uri, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := ts.get(ctx, uri); r.err != nil || r.code != 200 || r.body != body {
		t.Fatalf("GET %s on a new connection: %+v, want 200 %q", uri, r, body)
	}
}

func (ts *testServer) getAsync(uri string) chan result {
	c := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c <- ts.get(ctx, uri)
	}()
	return c
}

// blocker is a handler that announces each request and waits for release.
type blocker struct {
	entered chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan string, 16), release: make(chan struct{})}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.URL.Path
	<-b.release
	io.WriteString(w, "done "+r.URL.Path)
}

func waitEntered(t *testing.T, b *blocker) string {
	t.Helper()
	select {
	case p := <-b.entered:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("request never reached the handler")
		return ""
	}
}

// TestGracefulStop: a stop while a request is in flight closes the
// listener at once, lets the request finish, and Serve returns nil.
func TestGracefulStop(t *testing.T) {
	b := newBlocker()
	ts := startServer(t, b)
	inflight := ts.getAsync("/a")
	waitEntered(t, b)
	close(ts.stop)
	// The listener closes while the request is still running: a new
	// connection is refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", ts.sock)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after stop")
		}
		time.Sleep(5 * time.Millisecond) // polling the kernel's view, not synchronising
	}
	select {
	case err := <-ts.served:
		t.Fatalf("Serve returned (%v) before the request in flight finished", err)
	default:
	}
	close(b.release)
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != "done /a" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-ts.served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
		ts.served <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
}

// TestOneAtATime: with concurrency 1 a second request waits until the first
// connection is closed.
func TestOneAtATime(t *testing.T) {
	b := newBlocker()
	ts := startServer(t, b)
	first := ts.getAsync("/first")
	waitEntered(t, b)
	second := ts.getAsync("/second")
	select {
	case p := <-b.entered:
		t.Fatalf("%s entered while /first was running", p)
	case <-time.After(200 * time.Millisecond): // proving absence needs a window
	}
	b.release <- struct{}{}
	if r := <-first; r.body != "done /first" {
		t.Fatalf("first: %+v", r)
	}
	if p := waitEntered(t, b); p != "/second" {
		t.Fatalf("entered %s", p)
	}
	close(b.release)
	if r := <-second; r.body != "done /second" {
		t.Fatalf("second: %+v", r)
	}
}

// TestConcurrency: with concurrency 2 two requests run at once.
func TestConcurrency(t *testing.T) {
	b := newBlocker()
	ts := startServer(t, b, WithConcurrency(2))
	r1, r2 := ts.getAsync("/1"), ts.getAsync("/2")
	waitEntered(t, b)
	waitEntered(t, b)
	close(b.release)
	for _, c := range []chan result{r1, r2} {
		if r := <-c; r.code != 200 {
			t.Fatalf("%+v", r)
		}
	}
}

// TestMaxRequests: after N requests the worker stops accepting and Serve
// returns nil; request N+1 is not accepted by this worker.
func TestMaxRequests(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ts := startServer(t, h, WithMaxRequests(3))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if r := ts.get(ctx, "/"); r.err != nil || r.body != "ok" {
			t.Fatalf("request %d: %+v", i+1, r)
		}
	}
	select {
	case err := <-ts.served:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
		ts.served <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after max requests")
	}
	if c, err := net.Dial("unix", ts.sock); err == nil {
		c.Close()
		t.Fatal("listener still open after max requests")
	}
}

func TestListenArg(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prog", "-listen", "127.0.0.1:9000"}, "127.0.0.1:9000"},
		{[]string{"prog", "--listen=unix:/tmp/x.sock"}, "unix:/tmp/x.sock"},
		{[]string{"prog", "-v", "-listen=/tmp/y.sock"}, "/tmp/y.sock"},
		{[]string{"prog", "-listen"}, ""},
		{[]string{"prog"}, ""},
	} {
		if got := listenArg(tc.args); got != tc.want {
			t.Errorf("listenArg(%q) = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}
