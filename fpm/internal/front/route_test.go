package front

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/rs/zerolog"
)

// newTestServer is a front on a loopback listener it never serves: the
// tests call ServeHTTP and the helpers directly.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	opts.Listener, opts.Log = ln, zerolog.Nop()
	return New(opts)
}

// TestServeHTTPOwnPages: /metrics, the default pool's status and ping
// pages and its dashboard come before any pool, in that order.
func TestServeHTTPOwnPages(t *testing.T) {
	var got map[string]string
	page := func(params map[string]string, _ time.Time) (int, []string, []byte) {
		got = params
		return 0, []string{"Expires: Thu, 01 Jan 1970 00:00:00 GMT", "content-type: text/plain"}, []byte(params["SCRIPT_NAME"])
	}
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, s) })
	}
	s := newTestServer(t, Options{
		DefaultPool: "www",
		Metrics:     text("metrics"), MetricsPath: "/metrics",
		PagesAllow: loopback,
		Pools: []Pool{{
			Name: "www", Network: "unix", Address: filepath.Join(t.TempDir(), "none.sock"),
			StatusPath: "/status", PingPath: "/status/dashboard", Page: page,
			DashboardPath: "/status/dashboard", Dashboard: text("dashboard"),
		}},
	})
	for _, tc := range []struct{ url, body string }{
		{"/metrics", "metrics"},
		{"/x/../status?json&full", "/status"},
		{"/status/dashboard", "/status/dashboard"}, // ping_path wins over the dashboard
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, localRequest("GET", tc.url))
		if w.Code != 200 || w.Body.String() != tc.body {
			t.Errorf("GET %s: %d %q, want 200 %q", tc.url, w.Code, w.Body, tc.body)
		}
	}
	if got["QUERY_STRING"] != "" || got["REQUEST_METHOD"] != "GET" {
		t.Errorf("last page params %v", got)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, localRequest("GET", "/status?json&full"))
	if got["QUERY_STRING"] != "json&full" || got["SCRIPT_FILENAME"] != "/status" {
		t.Errorf("page params %v", got)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
	s.pages.PingPath = "/ping"
	w = httptest.NewRecorder()
	s.ServeHTTP(w, localRequest("GET", "/status/dashboard"))
	if w.Body.String() != "dashboard" {
		t.Errorf("dashboard: %q", w.Body)
	}
}

// TestRoute: the longest prefix at a path boundary, else the default pool.
func TestRoute(t *testing.T) {
	s := newTestServer(t, Options{
		DefaultPool: "www",
		Pools:       []Pool{{Name: "www"}, {Name: "api"}, {Name: "v2"}},
		Routes:      []Route{{"/api", "api"}, {"/api/v2/", "v2"}},
	})
	for path, want := range map[string]string{
		"/": "www", "/apix": "www", "/api": "api", "/api/x": "api", "/api/v2": "v2", "/api/v2/x": "v2",
	} {
		if u := s.route(path); u == nil || u.name != want {
			t.Errorf("route(%q) = %v, want %s", path, u, want)
		}
	}
	s = newTestServer(t, Options{Pools: []Pool{{Name: "api"}}, Routes: []Route{{"/api", "api"}}})
	if u := s.route("/other"); u != nil {
		t.Errorf("route without default pool: %s", u.name)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestUpstreamError: what the client gets for each failure of the pool.
func TestUpstreamError(t *testing.T) {
	s := newTestServer(t, Options{ReadTimeout: time.Second})
	u := &upstream{name: "www"}
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"body too large", fcgi.ErrBodyTooLarge, 413},
		{"max bytes", &http.MaxBytesError{Limit: 1}, 413},
		{"client body", errors.New("fcgi: reading request body: unexpected EOF"), 400},
		{"read timeout", fcgi.ErrHeaderTimeout, 504},
		{"dial timeout", timeoutErr{}, 504},
		{"overloaded", fcgi.ErrOverloaded, 503},
		{"other", errors.New("connection refused"), 502},
	} {
		w := httptest.NewRecorder()
		s.upstreamError(w, httptest.NewRequest("GET", "/", nil), u, tc.err)
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.code)
		}
	}
	gone, stop := context.WithCancel(context.Background())
	stop()
	w := httptest.NewRecorder()
	s.upstreamError(w, httptest.NewRequest("GET", "/", nil).WithContext(gone), u, context.Canceled)
	if w.Code != 499 {
		t.Errorf("client gone: %d, want 499", w.Code)
	}
}

// TestLogURICut: a failed request's log line carries at most logURIMax
// bytes of its URI, however long the URI (up to max_header_bytes).
func TestLogURICut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logged strings.Builder
	s := New(Options{Listener: ln, Log: zerolog.New(&logged), DefaultPool: "app",
		Pools: []Pool{{Name: "app", Network: "unix", Address: filepath.Join(t.TempDir(), "none.sock")}}})
	uri := "/" + strings.Repeat("a", 60<<10)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", uri, nil))
	if w.Code < 500 {
		t.Fatalf("status %d, want 502 or 504 (no pool listens)", w.Code)
	}
	if l := logged.String(); !strings.Contains(l, `"uri":"/aaa`) || len(l) > logURIMax+1024 {
		t.Fatalf("log of %d bytes for a %d byte URI: %.200q", len(l), len(uri), l)
	}
}
