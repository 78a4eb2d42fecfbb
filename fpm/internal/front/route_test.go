package front

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
		Metrics:     text("metrics"),
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
		s.ServeHTTP(w, httptest.NewRequest("GET", tc.url, nil))
		if w.Code != 200 || w.Body.String() != tc.body {
			t.Errorf("GET %s: %d %q, want 200 %q", tc.url, w.Code, w.Body, tc.body)
		}
	}
	if got["QUERY_STRING"] != "" || got["REQUEST_METHOD"] != "GET" {
		t.Errorf("last page params %v", got)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/status?json&full", nil))
	if got["QUERY_STRING"] != "json&full" || got["SCRIPT_FILENAME"] != "/status" {
		t.Errorf("page params %v", got)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
	s.pages.PingPath = "/ping"
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/status/dashboard", nil))
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

// TestResolve: try_files and fastcgi_split_path_info on the document root.
func TestResolve(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"index.php", "a.php", "style.css", "t.phtml", "sub/index.html"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestServer(t, Options{Root: root, Index: []string{"index.php", "index.html"}, ScriptExtensions: []string{".phtml"}})
	for _, tc := range []struct{ path, script, pathInfo, static string }{
		{"/", "/index.php", "", ""},
		{"/sub", "/sub/index.html", "", ""},
		{"/style.css", "", "", filepath.Join(root, "style.css")},
		{"/a.php", "/a.php", "", ""},
		{"/A.PHP/x", "/A.PHP/x", "", ""}, // no such file: as it is
		{"/a.php/x/y", "/a.php", "/x/y", ""},
		{"/t.phtml/x", "/t.phtml", "/x", ""},
		{"/style.css/x", "/style.css/x", "", ""},
		{"/missing.php", "/missing.php", "", ""},
	} {
		script, pathInfo, static := s.resolve(tc.path)
		if script != tc.script || pathInfo != tc.pathInfo || static != tc.static {
			t.Errorf("resolve(%q) = %q, %q, %q; want %q, %q, %q", tc.path, script, pathInfo, static, tc.script, tc.pathInfo, tc.static)
		}
	}
	s = newTestServer(t, Options{})
	if script, _, _ := s.resolve("/a/b.php/c"); script != "/a/b.php/c" {
		t.Errorf("without root: %q", script)
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
	timedOut, cancel := context.WithCancelCause(context.Background())
	cancel(errReadTimeout)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		code int
	}{
		{"body too large", context.Background(), fcgi.ErrBodyTooLarge, 413},
		{"max bytes", context.Background(), &http.MaxBytesError{Limit: 1}, 413},
		{"client body", context.Background(), errors.New("fcgi: reading request body: unexpected EOF"), 400},
		{"read timeout", timedOut, errReadTimeout, 504},
		{"dial timeout", context.Background(), timeoutErr{}, 504},
		{"overloaded", context.Background(), fcgi.ErrOverloaded, 503},
		{"other", context.Background(), errors.New("connection refused"), 502},
	} {
		w := httptest.NewRecorder()
		s.upstreamError(w, httptest.NewRequest("GET", "/", nil), u, tc.ctx, tc.err)
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.code)
		}
	}
	gone, stop := context.WithCancel(context.Background())
	stop()
	w := httptest.NewRecorder()
	s.upstreamError(w, httptest.NewRequest("GET", "/", nil).WithContext(gone), u, gone, context.Canceled)
	if w.Code != 499 {
		t.Errorf("client gone: %d, want 499", w.Code)
	}
}
