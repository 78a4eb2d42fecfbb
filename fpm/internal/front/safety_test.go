package front

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loopback is pages_allow's default.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// localRequest is a request from 127.0.0.1 (httptest's default peer is
// 192.0.2.1).
func localRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

// docTree writes files (name → content; a content "->X" makes a symbolic
// link to X) under a new root and returns the root.
func docTree(t testing.TB, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "www")
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else if strings.HasSuffix(name, "/") {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// outcome runs resolve and renders the result: "404", "403", "static NAME" or
// "pass SCRIPT PATH_INFO".
func outcome(s *Server, u *upstream, clean string) string {
	res := s.resolve(u, clean)
	switch {
	case res.notFound:
		return "404"
	case res.forbidden:
		return "403"
	case res.static != nil:
		defer res.static.f.Close()
		b, _ := io.ReadAll(res.static.f)
		return "static " + string(b)
	}
	return strings.TrimSpace("pass " + res.script + " " + res.pathInfo)
}

// TestResolveScripts: a pool that runs scripts (php-cgi) gets a request
// only for an existing script with its extension, as try_files $uri =404
// does; everything else is a static file or 404. So a script never runs
// through the path of another file (/uploads/evil.jpg/x.php, the
// cgi.fix_pathinfo trap) and its source is never served.
func TestResolveScripts(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.php")
	os.WriteFile(outside, []byte("outside"), 0o644)
	root := docTree(t, map[string]string{
		"index.php": "", "a.php": "", "style.css": "css", "t.phtml": "", "A.PHP": "",
		"sub/index.html": "sub index", "empty/": "", "uploads/evil.jpg": "jpeg",
		"x.cgi": "", "link.php": "->a.php", "out.php": "->" + outside, "outdir": "->" + filepath.Dir(outside),
	})
	s := newTestServer(t, Options{Root: root, Index: []string{"index.php", "index.html"}, ScriptExtensions: []string{".phtml", ".cgi"}})
	php := &upstream{name: "php", scripts: true, exts: []string{".php", ".phtml"}}
	for _, tc := range []struct{ path, want string }{
		{"/", "pass /index.php"},
		{"/sub", "static sub index"}, // an index file that is no script is served
		{"/empty", "403"},            // a directory without an index file, as nginx
		{"/style.css", "static css"},
		{"/a.php", "pass /a.php"},
		{"/a.php/x/y", "pass /a.php /x/y"},
		{"/t.phtml/x", "pass /t.phtml /x"},
		{"/missing.php", "404"},
		{"/missing.php/x", "404"},
		{"/uploads/evil.jpg/x.php", "404"}, // evil.jpg is no script: php-cgi never sees it
		{"/uploads/evil.jpg", "static jpeg"},
		{"/style.css/x", "404"},
		{"/A.PHP", "404"},               // not .php exactly: not run, and never served as source
		{"/x.cgi", "404"},               // another pool's script: not run here, not served
		{"/link.php", "pass /link.php"}, // a link inside root
		{"/out.php", "404"},             // a link leading outside root
		{"/outdir/secret.php", "404"},   // through a linked folder outside root
		{"/outdir/secret.php/x", "404"},
	} {
		if got := outcome(s, php, tc.path); got != tc.want {
			t.Errorf("resolve(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	// The CGI bridge without security_limit_extensions runs any file: none
	// is served as a file.
	cgi := &upstream{name: "cgi", scripts: true}
	if got := outcome(s, cgi, "/style.css/x"); got != "pass /style.css /x" {
		t.Errorf("cgi pool: %q", got)
	}
	// follow_symlinks_outside_root = true follows the link out, on purpose.
	s.opts.FollowSymlinksOutsideRoot = true
	if got := outcome(s, php, "/outdir/secret.php/x"); got != "pass /outdir/secret.php /x" {
		t.Errorf("follow_symlinks_outside_root: %q", got)
	}
}

// TestResolvePathInfoLookups: the PATH_INFO split finds the longest
// script part (a folder may be named like a script) with lookups bounded
// by the folders that exist, not by the parts of the path: a 60 KB path of
// "/x.php" parts costs a few lookups, not 10,000.
func TestResolvePathInfoLookups(t *testing.T) {
	root := docTree(t, map[string]string{"x.php": "", "d.php/b.php": "", "d.php/c/": ""})
	s := newTestServer(t, Options{Root: root})
	php := &upstream{name: "php", scripts: true, exts: []string{".php"}}
	long := strings.Repeat("/x.php", 10_000)
	for _, tc := range []struct {
		path, want string
		lookups    int
	}{
		{"/d.php/b.php/x", "pass /d.php/b.php /x", 3},
		{"/d.php/c/x.php/y", "404", 3},
		{long, "pass /x.php " + long[len("/x.php"):], 2},
		{"/missing" + long, "404", 2},
	} {
		res := s.resolve(php, tc.path)
		if got := outcome(s, php, tc.path); got != tc.want || res.lookups > tc.lookups {
			t.Errorf("resolve(%.40q) = %.60q after %d lookups, want %.60q after at most %d", tc.path, got, res.lookups, tc.want, tc.lookups)
		}
	}
}

// TestResolveApplication: an application pool (Go, C) gets every path that
// is not a static file, as try_files $uri @app does; a script file is never
// served as a file.
func TestResolveApplication(t *testing.T) {
	root := docTree(t, map[string]string{"robots.txt": "robots", "a.php": "", "sub/index.html": "sub index"})
	s := newTestServer(t, Options{Root: root, Index: []string{"index.php", "index.html"}})
	app := &upstream{name: "go"}
	for _, tc := range []struct{ path, want string }{
		{"/", "pass /"},
		{"/api/users", "pass /api/users"},
		{"/robots.txt", "static robots"},
		{"/sub", "static sub index"},
		{"/a.php/x", "pass /a.php /x"},
		{"/.env", "pass /.env"}, // no such file: the application answers it
	} {
		if got := outcome(s, app, tc.path); got != tc.want {
			t.Errorf("resolve(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	s = newTestServer(t, Options{})
	if got := outcome(s, app, "/a/b.php/c"); got != "pass /a/b.php/c" {
		t.Errorf("without root: %q", got)
	}
	if got := outcome(s, &upstream{scripts: true}, "/a.php"); got != "404" {
		t.Errorf("script pool without root: %q", got)
	}
}

// TestDotfiles: files and folders whose names start with "." are neither
// served nor run, except under /.well-known/, unless serve_dotfiles.
func TestDotfiles(t *testing.T) {
	root := docTree(t, map[string]string{
		".env": "DB_PASSWORD=x", ".git/config": "[core]", "a/.htpasswd": "admin:x", ".hidden.php": "",
		".well-known/acme-challenge/tok": "acme", ".well-known/.secret": "s",
	})
	s := newTestServer(t, Options{Root: root})
	php := &upstream{name: "php", scripts: true, exts: []string{".php"}}
	app := &upstream{name: "go"}
	for _, tc := range []struct{ path, want string }{
		{"/.env", "404"},
		{"/.git/config", "404"},
		{"/a/.htpasswd", "404"},
		{"/.hidden.php", "404"},
		{"/.well-known/acme-challenge/tok", "static acme"},
		{"/.well-known/.secret", "404"},
	} {
		for _, u := range []*upstream{php, app} {
			if got := outcome(s, u, tc.path); got != tc.want {
				t.Errorf("%s pool: resolve(%q) = %q, want %q", u.name, tc.path, got, tc.want)
			}
		}
	}
	s.opts.ServeDotfiles = true
	if got := outcome(s, php, "/.env"); got != "static DB_PASSWORD=x" {
		t.Errorf("serve_dotfiles: %q", got)
	}
}

// TestStaticNeverLeavesRoot: through ServeHTTP, with "..", encoded
// slashes, a NUL byte and symbolic links, nothing outside root is served.
func TestStaticNeverLeavesRoot(t *testing.T) {
	top := t.TempDir()
	os.WriteFile(filepath.Join(top, "secret.txt"), []byte("SECRET"), 0o644)
	root := docTree(t, map[string]string{
		"ok.txt": "ok", "leak.txt": "->" + filepath.Join(top, "secret.txt"), "up": "->..", "abs": "->" + top,
	})
	s := newTestServer(t, Options{Root: root, DefaultPool: "php",
		Pools: []Pool{{Name: "php", Scripts: true, Extensions: []string{".php"}, Network: "unix", Address: filepath.Join(top, "none.sock")}}})
	for _, tc := range []struct {
		target string
		code   int
	}{
		{"/ok.txt", 200},
		{"/../secret.txt", 404},
		{"/..%2fsecret.txt", 404},
		{"/%2e%2e/secret.txt", 404},
		{"/leak.txt", 404},
		{"/up/secret.txt", 404},
		{"/abs/secret.txt", 404},
		{"/ok.txt%00.php", 400},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, localRequest("GET", tc.target))
		if w.Code != tc.code || strings.Contains(w.Body.String(), "SECRET") {
			t.Errorf("GET %s: %d %q, want %d", tc.target, w.Code, w.Body, tc.code)
		}
	}
}

// okPage answers every page with 200 "page".
func okPage(map[string]string, time.Time) (int, []string, []byte) { return 0, nil, []byte("page") }

// TestPagesAllow: the status page, the dashboard and the metrics answer
// only clients in pages_allow (the client behind a trusted proxy); ping
// answers everyone; a pool's own status path routed to its workers is
// guarded too.
func TestPagesAllow(t *testing.T) {
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) })
	}
	s := newTestServer(t, Options{
		DefaultPool: "www", Metrics: text("metrics"), MetricsPath: "/metrics", PagesAllow: loopback,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Routes:         []Route{{"/api", "api"}},
		Pools: []Pool{
			{Name: "www", StatusPath: "/status", PingPath: "/ping", Page: okPage, DashboardPath: "/status/dashboard", Dashboard: text("dash")},
			{Name: "api", StatusPath: "/api/status", Network: "unix", Address: filepath.Join(t.TempDir(), "none.sock")},
		},
	})
	for _, tc := range []struct {
		path, peer, xff string
		code            int
	}{
		{"/status", "127.0.0.1:1", "", 200},
		{"/status", "[::1]:1", "", 200},
		{"/status", "[::ffff:127.0.0.1]:1", "", 200},
		{"/status", "192.0.2.1:1", "", 403},
		{"/status?full", "192.0.2.1:1", "", 403},
		{"/status/dashboard", "192.0.2.1:1", "", 403},
		{"/metrics", "192.0.2.1:1", "", 403},
		{"/metrics", "127.0.0.1:1", "", 200},
		{"/ping", "192.0.2.1:1", "", 200},
		{"/status", "127.0.0.1:1", "192.0.2.9", 403}, // through a trusted proxy on loopback
		{"/api/status", "192.0.2.1:1", "", 403},      // a Go worker of "api" would answer it
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("GET %s from %s (X-Forwarded-For %q): %d, want %d", tc.path, tc.peer, tc.xff, w.Code, tc.code)
		}
	}
	// Without metrics_path the front has no metrics page: /metrics is the
	// pool's (no worker here: an error from the pool, not the metrics).
	s.opts.MetricsPath = ""
	w := httptest.NewRecorder()
	s.ServeHTTP(w, localRequest("GET", "/metrics"))
	if w.Code < 500 || w.Body.String() == "metrics" {
		t.Errorf("/metrics without metrics_path: %d %q", w.Code, w.Body)
	}
}
