package cgi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker"
	"github.com/gofpm/gofpm/worker/internal/testbuf"
	"github.com/gofpm/gofpm/worker/proto"
)

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// cgiRoot makes a document root with the test scripts.
func cgiRoot(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	writeScript(t, filepath.Join(root, "hello.sh"), "printf 'Content-Type: text/plain\\n\\n'\nprintf 'hello %s' \"$QUERY_STRING\"\n")
	writeScript(t, filepath.Join(root, "echo.sh"), "printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\ncat\n")
	writeScript(t, filepath.Join(root, "created.sh"), "printf 'Status: 201 Created\\nContent-Type: text/plain\\nX-Made: yes\\n\\ncreated'\n")
	writeScript(t, filepath.Join(root, "info.sh"), "printf 'Content-Type: text/plain\\n\\n'\nprintf 'PATH_INFO=%s SCRIPT_NAME=%s METHOD=%s' \"$PATH_INFO\" \"$SCRIPT_NAME\" \"$REQUEST_METHOD\"\n")
	writeScript(t, filepath.Join(root, "redirect.sh"), "printf 'Location: http://example.com/\\n\\n'\n")
	writeScript(t, filepath.Join(root, "stderr.sh"), "echo oops-on-stderr >&2\nprintf 'Content-Type: text/plain\\n\\nok'\n")
	writeScript(t, filepath.Join(root, "noheader.sh"), "exit 1\n")
	writeScript(t, filepath.Join(root, "sub", "s.sh"), "printf 'Content-Type: text/plain\\n\\nsub'\n")
	writeScript(t, filepath.Join(root, "hello.txt"), "printf 'Content-Type: text/plain\\n\\ntxt'\n")
	if err := os.WriteFile(filepath.Join(root, "plain.sh"), []byte("#!/bin/sh\necho no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(outside, "evil.sh"), "printf 'Content-Type: text/plain\\n\\nevil'\n")
	if err := os.Symlink(filepath.Join(outside, "evil.sh"), filepath.Join(root, "link.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "hello.sh"), filepath.Join(root, "inlink.sh")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func newTestBridge(c Config) (*bridge, *testbuf.Buffer) {
	b := NewBridge(c).(*bridge)
	log := &testbuf.Buffer{}
	b.stderr = log
	return b, log
}

func serveCGI(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestCGIBridgeHTTP(t *testing.T) {
	root, _ := cgiRoot(t)
	b, log := newTestBridge(Config{Root: root, Extensions: []string{".sh"}})
	cases := []struct {
		name, target string
		code         int
		body         string // prefix
	}{
		{"hello", "/hello.sh?world", 200, "hello world"},
		{"created", "/created.sh", 201, "created"},
		{"redirect", "/redirect.sh", 302, ""},
		{"pathinfo", "/info.sh/extra/more", 200, "PATH_INFO=/extra/more SCRIPT_NAME=/info.sh METHOD=GET"},
		{"no pathinfo", "/info.sh", 200, "PATH_INFO= SCRIPT_NAME=/info.sh"},
		{"subdir", "/sub/s.sh", 200, "sub"},
		{"symlink inside", "/inlink.sh?x", 200, "hello x"},
		{"symlink outside", "/link.sh", 403, "Access denied."},
		{"traversal", "/../outside/evil.sh", 403, "Access denied."},
		{"traversal inner", "/sub/../hello.sh", 403, "Access denied."},
		{"missing", "/nope.sh", 404, "File not found."},
		{"missing below file dir", "/nodir/x.sh", 404, "File not found."},
		{"directory", "/sub", 403, "Access denied."},
		{"root", "/", 403, "Access denied."},
		{"extension", "/hello.txt", 403, "Access denied."},
		{"not executable", "/plain.sh", 403, "Access denied."},
		{"no header", "/noheader.sh", 500, ""},
		{"stderr", "/stderr.sh", 200, "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://x"+c.target, nil)
			req.URL.Path = strings.SplitN(c.target, "?", 2)[0] // keep ".." as sent
			rec := serveCGI(b, req)
			if rec.Code != c.code || !strings.HasPrefix(rec.Body.String(), c.body) {
				t.Fatalf("%s: %d %q, want %d %q", c.target, rec.Code, rec.Body.String(), c.code, c.body)
			}
		})
	}
	if got := serveCGI(b, httptest.NewRequest("GET", "/created.sh", nil)).Header().Get("X-Made"); got != "yes" {
		t.Errorf("X-Made = %q", got)
	}
	if got := serveCGI(b, httptest.NewRequest("GET", "/redirect.sh", nil)).Header().Get("Location"); got != "http://example.com/" {
		t.Errorf("Location = %q", got)
	}
	l := log.String()
	if !strings.Contains(l, "oops-on-stderr") {
		t.Errorf("script stderr not passed on: %q", l)
	}
	if !strings.Contains(l, "security.limit_extensions") {
		t.Errorf("no limit_extensions line: %q", l)
	}
}

func TestCGIBridgeStdin(t *testing.T) {
	root, _ := cgiRoot(t)
	b, _ := newTestBridge(Config{Root: root})
	body := strings.Repeat("0123456789", 50000) // larger than a pipe buffer
	req := httptest.NewRequest("POST", "/echo.sh", strings.NewReader(body))
	rec := serveCGI(b, req)
	if rec.Code != 200 || rec.Body.String() != body {
		t.Fatalf("echo: %d, %d bytes, want %d", rec.Code, rec.Body.Len(), len(body))
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// TestCGIBridgeAnyExtension: without Extensions any executable runs.
func TestCGIBridgeAnyExtension(t *testing.T) {
	root, _ := cgiRoot(t)
	b, _ := newTestBridge(Config{Root: root})
	rec := serveCGI(b, httptest.NewRequest("GET", "/hello.txt", nil))
	if rec.Code != 200 || rec.Body.String() != "txt" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

// TestCGIBridgeSymlinkRoot: a root that is itself a symlink (a deploy's
// "current") works, and SCRIPT_FILENAME through either name is accepted.
func TestCGIBridgeSymlinkRoot(t *testing.T) {
	root, outside := cgiRoot(t)
	cur := filepath.Join(filepath.Dir(root), "current")
	if err := os.Symlink(root, cur); err != nil {
		t.Fatal(err)
	}
	b, _ := newTestBridge(Config{Root: cur})
	if rec := serveCGI(b, httptest.NewRequest("GET", "/hello.sh?a", nil)); rec.Code != 200 || rec.Body.String() != "hello a" {
		t.Fatalf("via symlinked root: %d %q", rec.Code, rec.Body.String())
	}
	if rec := serveCGI(b, httptest.NewRequest("GET", "/link.sh", nil)); rec.Code != 403 {
		t.Fatalf("outside link via symlinked root: %d", rec.Code)
	}
	_ = outside
}

func pidGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	// A zombie waiting for a reaper that is not us counts as gone.
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(st)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] == 'Z'
	}
	return false
}

func TestCGIBridgeTimeout(t *testing.T) {
	root, _ := cgiRoot(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	writeScript(t, filepath.Join(root, "slow.sh"), "sleep 30 &\necho $! > "+pidFile+"\nwait\n")
	const timeout = 500 * time.Millisecond
	b, log := newTestBridge(Config{Root: root, Timeout: timeout})
	start := time.Now()
	rec := serveCGI(b, httptest.NewRequest("GET", "/slow.sh", nil))
	if el := time.Since(start); el > timeout+time.Second {
		t.Errorf("answered after %v", el)
	}
	if rec.Code != http.StatusGatewayTimeout {
		t.Fatalf("code %d, want 504", rec.Code)
	}
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pb)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !pidGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("sleep %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel's view
	}
	if !strings.Contains(log.String(), "timed out") {
		t.Errorf("no timeout line: %q", log.String())
	}
}

// TestCGIBridgeClientGone: a cancelled request kills the script.
func TestCGIBridgeClientGone(t *testing.T) {
	root, _ := cgiRoot(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	writeScript(t, filepath.Join(root, "slow.sh"), "echo $$ > "+pidFile+".tmp\nmv "+pidFile+".tmp "+pidFile+"\nexec sleep 30\n")
	b, _ := newTestBridge(Config{Root: root})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serveCGI(b, httptest.NewRequest("GET", "/slow.sh", nil).WithContext(ctx)) }()
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if pb, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(pb)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("script never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("handler did not return after cancel")
	}
	if !pidGone(pid) {
		t.Fatalf("script %d still running", pid)
	}
}

func TestCGIBridgeFromEnv(t *testing.T) {
	t.Setenv(proto.EnvCGIRoot, "/srv/www")
	t.Setenv(proto.EnvCGIExtensions, ".cgi, sh,,.py")
	t.Setenv(proto.EnvCGITimeout, "30s")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "/srv/www" || strings.Join(c.Extensions, ",") != ".cgi,.sh,.py" || c.Timeout != 30*time.Second {
		t.Fatalf("%+v", c)
	}
	t.Setenv(proto.EnvCGITimeout, "5")
	if c, err = ConfigFromEnv(); err != nil || c.Timeout != 5*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	t.Setenv(proto.EnvCGITimeout, "")
	t.Setenv(proto.EnvCGIExtensions, "")
	if c, err = ConfigFromEnv(); err != nil || c.Timeout != 0 || c.Extensions != nil {
		t.Fatalf("%+v %v", c, err)
	}
	t.Setenv(proto.EnvCGITimeout, "soon")
	if _, err = ConfigFromEnv(); err == nil {
		t.Fatal("bad timeout accepted")
	}
	t.Setenv(proto.EnvCGITimeout, "")
	t.Setenv(proto.EnvCGIRoot, "")
	if _, err = ConfigFromEnv(); err == nil {
		t.Fatal("missing root accepted")
	}
}

// envServeChild makes the test binary act as the bridge's worker process
// for TestCGIBridgeServe.
const envServeChild = "GOFPM_TEST_CGI_CHILD"

// serveChild is the worker process: what `gofpm worker cgi` runs.
func serveChild() {
	cfg, err := ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(2)
	}
	if err := worker.Serve(NewBridge(cfg)); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// startBridge starts the bridge as the master does: this test binary,
// re-executed, with a listening Unix socket as fd 0 and the configuration
// in the environment. It is stopped gracefully (SIGQUIT) at the end of the
// test and must then exit 0.
func startBridge(t *testing.T, root, extensions string) *fcgi.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "w.sock") // short enough for a socket path
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	lf, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCGIBridgeServe$", "-test.count=1")
	cmd.Env = append(os.Environ(), envServeChild+"=1", proto.EnvCGIRoot+"="+root, proto.EnvCGIExtensions+"="+extensions)
	cmd.Stdin = lf // fd 0: the pool's socket
	out := &testbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the bridge's worker: %v\n%s", err, out)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("the bridge's worker did not stop\n%s", out)
		}
	})
	return &fcgi.Client{Network: "unix", Address: sock}
}

// TestCGIBridgeServe runs the bridge end to end as a worker, with FastCGI
// requests like nginx's (SCRIPT_FILENAME set or not).
func TestCGIBridgeServe(t *testing.T) {
	if os.Getenv(envServeChild) == "1" {
		serveChild()
		return
	}
	root, outside := cgiRoot(t)
	client := startBridge(t, root, ".sh")
	do := func(params map[string]string, body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := map[string]string{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "x",
			"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5555"}
		for k, v := range params {
			p[k] = v
		}
		req := &fcgi.Request{Params: p}
		if body != "" {
			req.Body, req.ContentLength = strings.NewReader(body), int64(len(body))
		}
		resp, err := client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bb, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(bb)
	}
	check := func(what string, code int, body string, wantCode int, wantBody string) {
		t.Helper()
		if code != wantCode || body != wantBody {
			t.Errorf("%s: %d %q, want %d %q", what, code, body, wantCode, wantBody)
		}
	}
	code, body := do(map[string]string{"REQUEST_URI": "/hello.sh?fcgi", "QUERY_STRING": "fcgi"}, "")
	check("hello", code, body, 200, "hello fcgi")
	code, body = do(map[string]string{"REQUEST_URI": "/hello.sh?sf", "QUERY_STRING": "sf",
		"SCRIPT_FILENAME": filepath.Join(root, "hello.sh")}, "")
	check("SCRIPT_FILENAME", code, body, 200, "hello sf")
	code, body = do(map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/echo.sh"}, "posted body")
	check("echo", code, body, 200, "posted body")
	code, body = do(map[string]string{"REQUEST_URI": "/created.sh"}, "")
	check("created", code, body, 201, "created")
	// nginx with fastcgi_split_path_info: SCRIPT_FILENAME is the script,
	// PATH_INFO is recovered from the request path.
	code, body = do(map[string]string{"REQUEST_URI": "/info.sh/a/b",
		"SCRIPT_FILENAME": filepath.Join(root, "info.sh"), "PATH_INFO": "/a/b"}, "")
	check("split PATH_INFO", code, body, 200, "PATH_INFO=/a/b SCRIPT_NAME=/info.sh METHOD=GET")
	// Without the split: SCRIPT_FILENAME runs past the script.
	code, body = do(map[string]string{"REQUEST_URI": "/info.sh/c",
		"SCRIPT_FILENAME": filepath.Join(root, "info.sh") + "/c"}, "")
	check("unsplit PATH_INFO", code, body, 200, "PATH_INFO=/c SCRIPT_NAME=/info.sh METHOD=GET")
	code, body = do(map[string]string{"REQUEST_URI": "/x", "SCRIPT_FILENAME": filepath.Join(outside, "evil.sh")}, "")
	check("SCRIPT_FILENAME outside", code, body, 403, "Access denied.\n")
	code, body = do(map[string]string{"REQUEST_URI": "/link.sh"}, "")
	check("symlink outside", code, body, 403, "Access denied.\n")
	code, body = do(map[string]string{"REQUEST_URI": "/nope.sh"}, "")
	check("missing", code, body, 404, "File not found.\n")
	code, body = do(map[string]string{"REQUEST_URI": "/hello.txt"}, "")
	check("extension", code, body, 403, "Access denied.\n")
}

// TestCGIBridgeEnvFromParams: only the RFC 3875 and well-known params
// reach a script; others, whatever their name, are dropped.
func TestCGIBridgeEnvFromParams(t *testing.T) {
	b, _ := newTestBridge(Config{Root: "/srv/www"})
	r := httptest.NewRequest("GET", "http://example.test/x.cgi/p?q=1", nil)
	r.Header.Set("Proxy", "http://evil:3128")
	r.Header.Set("X-Ok", "yes")
	params := map[string]string{
		"LD_PRELOAD": "/tmp/evil.so", "PATH": "/evil", "BASH_ENV": "/evil", "ENV": "/evil",
		"PERL5LIB": "/evil", "PYTHONPATH": "/evil", "GOFPM_POOL": "x",
		"REMOTE_USER": "bob", "HTTPS": "on", "SERVER_NAME": "example.org", "DOCUMENT_URI": "/x.cgi",
	}
	env := map[string]string{}
	for _, kv := range b.env(r, params, &script{name: "/srv/www/x.cgi", pathInfo: "/p"}) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"LD_PRELOAD", "BASH_ENV", "ENV", "PERL5LIB", "PYTHONPATH", "GOFPM_POOL", "HTTP_PROXY"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q reached the script", k, v)
		}
	}
	for k, want := range map[string]string{
		"REMOTE_USER": "bob", "HTTPS": "on", "SERVER_NAME": "example.org", "DOCUMENT_URI": "/x.cgi",
		"HTTP_X_OK": "yes", "PATH_INFO": "/p", "SCRIPT_NAME": "/x.cgi", "QUERY_STRING": "q=1",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if env["PATH"] == "/evil" {
		t.Errorf("PATH came from the params")
	}
}

// TestCGIBridgeClosedStdout: a script that answers, closes its stdout and
// goes on is killed at the timeout.
func TestCGIBridgeClosedStdout(t *testing.T) {
	root, _ := cgiRoot(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	writeScript(t, filepath.Join(root, "closed.sh"), "printf 'Content-Type: text/plain\\n\\nbye'\nexec >&-\necho $$ > "+pidFile+".tmp\nmv "+pidFile+".tmp "+pidFile+"\nexec sleep 30\n")
	const timeout = 500 * time.Millisecond
	b, _ := newTestBridge(Config{Root: root, Timeout: timeout})
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serveCGI(b, httptest.NewRequest("GET", "/closed.sh", nil)) }()
	var rec *httptest.ResponseRecorder
	select {
	case rec = <-done:
	case <-time.After(10 * time.Second):
		if pb, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(pb))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		t.Fatal("the request did not end at the timeout")
	}
	if rec.Code != 200 || rec.Body.String() != "bye" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	pb, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
	if !pidGone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("script %d outlived its request", pid)
	}
}
