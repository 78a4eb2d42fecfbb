package e2e

// Issue 14, "What a worker or script receives" and "Examples, files and
// commands": what crosses from the master and the web server into a
// worker or a CGI script, and what the master's files and commands trust.
// Each test runs the real gofpm binary.

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/gofpm/gofpm/fpm/internal/procfs"
)

// oneWorkerPool is one static pool of one examples/hello worker on
// DIR/www.sock.
const oneWorkerPool = `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`

// cgiPool writes scripts into DIR/www and returns a config with one CGI
// bridge pool on DIR/cgi.sock; extra is added to the pool's table.
func cgiPool(t *testing.T, dir string, scripts map[string]string, extra string) string {
	t.Helper()
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(www, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return `
[pool.cgi]
listen = "{{DIR}}/cgi.sock"
worker = "cgi"
root = "{{DIR}}/www"
security_limit_extensions = [".sh"]
pm = "static"
pm_max_children = 1
catch_workers_output = true
` + extra
}

// cgiRequest sends one FastCGI GET for uri to the pool at sock with the
// given params on top of nginx's usual ones, and returns status and body.
func cgiRequest(t *testing.T, sock, uri string, params map[string]string) (int, string) {
	t.Helper()
	p := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SCRIPT_NAME": uri, "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "4000",
	}
	for k, v := range params {
		p[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := (&fcgi.Client{Network: "unix", Address: sock}).Do(ctx, &fcgi.Request{Params: p})
	if err != nil {
		t.Fatalf("%s: %v", uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", uri, err)
	}
	return resp.StatusCode, string(b)
}

// readPid waits for a script to write its pid to path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "the script's pid in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return err == nil && pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// TestCGIScriptEnvironment: a CGI script receives the RFC 3875 variables,
// HTTP_* headers (not HTTP_PROXY) and the pool's env, and none of the
// other names a web server may send as FastCGI params.
func TestCGIScriptEnvironment(t *testing.T) {
	dir := shortTempDir(t)
	startMaster(t, dir, cgiPool(t, dir, map[string]string{
		"env.sh": "printf 'Content-Type: text/plain\\n\\n'\n/usr/bin/env\n",
	}, `env = { APP_ENV = "production" }`))
	code, body := cgiRequest(t, filepath.Join(dir, "cgi.sock"), "/env.sh", map[string]string{
		"LD_PRELOAD": "/tmp/evil.so", "PATH": "/evil", "BASH_ENV": "/tmp/evil.sh", "ENV": "/tmp/evil.sh",
		"PERL5LIB": "/evil", "PYTHONPATH": "/evil", "IFS": "x", "SHELLOPTS": "xtrace",
		"HTTP_PROXY": "http://evil:3128", "HTTP_X_OK": "yes", "REMOTE_USER": "bob", "HTTPS": "on",
	})
	if code != 200 {
		t.Fatalf("env.sh: %d %q", code, body)
	}
	env := map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	for _, k := range []string{"LD_PRELOAD", "BASH_ENV", "ENV", "PERL5LIB", "PYTHONPATH", "SHELLOPTS", "HTTP_PROXY"} {
		if v, ok := env[k]; ok {
			t.Errorf("the script received %s=%q", k, v)
		}
	}
	if env["PATH"] == "/evil" || env["IFS"] == "x" {
		t.Errorf("PATH=%q IFS=%q came from the params", env["PATH"], env["IFS"])
	}
	for k, want := range map[string]string{
		"APP_ENV": "production", "HTTP_X_OK": "yes", "REMOTE_USER": "bob", "HTTPS": "on",
		"REQUEST_METHOD": "GET", "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/env.sh", "REMOTE_ADDR": "127.0.0.1",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "GOFPM_") {
			t.Errorf("the script received %s", k)
		}
	}
}

// TestCGIScriptLifetime: a script that closes its stdout and goes on is
// still killed at request_terminate_timeout, with its process group; and
// a script whose bridge worker is SIGKILLed dies with it, background jobs
// included.
func TestCGIScriptLifetime(t *testing.T) {
	dir := shortTempDir(t)
	// closed.sh answers, closes stdout, and sleeps with a background job.
	// stays.sh keeps its stdout and sleeps.
	startMaster(t, dir, cgiPool(t, dir, map[string]string{
		"closed.sh": "printf 'Content-Type: text/plain\\n\\ndone'\nexec >&- \nsleep 60 &\necho $! > " + dir + "/bg.tmp\nmv " + dir + "/bg.tmp " + dir + "/bg.pid\n" +
			"echo $$ > " + dir + "/closed.tmp\nmv " + dir + "/closed.tmp " + dir + "/closed.pid\nexec sleep 60\n",
	}, `request_terminate_timeout = "2s"`))
	sock := filepath.Join(dir, "cgi.sock")

	start := time.Now()
	code, body := cgiRequest(t, sock, "/closed.sh", nil)
	if code != 200 || body != "done" {
		t.Fatalf("closed.sh: %d %q", code, body)
	}
	script, bg := readPid(t, filepath.Join(dir, "closed.pid")), readPid(t, filepath.Join(dir, "bg.pid"))
	eventually(t, 10*time.Second, "closed.sh and its background job to be killed", func() bool {
		return !alive(script) && !alive(bg)
	})
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("closed.sh ended after %v, the timeout is 2s", el)
	}

	// The bridge worker dies by SIGKILL mid-request: its script goes too,
	// and the script's background job. (A master of its own, without a
	// timeout: the master's request_terminate_timeout may replace the
	// worker above.)
	dir = filepath.Join(dir, "kill")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := startMaster(t, dir, cgiPool(t, dir, map[string]string{
		"stays.sh": "printf 'Content-Type: text/plain\\n\\n'\nsleep 60 &\necho $! > " + dir + "/job.tmp\nmv " + dir + "/job.tmp " + dir + "/job.pid\n" +
			"echo $$ > " + dir + "/stays.tmp\nmv " + dir + "/stays.tmp " + dir + "/stays.pid\nexec sleep 60\n",
	}, ""))
	sock = filepath.Join(dir, "cgi.sock")
	var workers []int
	eventually(t, 10*time.Second, "the bridge worker", func() bool { workers = m.children(); return len(workers) == 1 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := (&fcgi.Client{Network: "unix", Address: sock}).Do(ctx, &fcgi.Request{Params: map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": "/stays.sh", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost"}})
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	stays, job := readPid(t, filepath.Join(dir, "stays.pid")), readPid(t, filepath.Join(dir, "job.pid"))
	// The worker is the script's parent (the master's child list may also
	// have held a process between fork and exec when it was read).
	st, err := procfs.ReadStat(stays)
	if err != nil || !slices.Contains(m.children(), st.PPID) {
		t.Fatalf("stays.sh %d: parent %d (%v) is not a worker of %v", stays, st.PPID, err, m.children())
	}
	syscall.Kill(st.PPID, syscall.SIGKILL)
	eventually(t, 10*time.Second, "stays.sh and its background job to die with their worker", func() bool {
		return !alive(stays) && !alive(job)
	})
	<-done
}

// fdsTo lists pid's fds open on path.
func fdsTo(pid int, path string) []string {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == path {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestInheritedFDs: a file the master's parent left open (fd 5 here) is
// not passed on to the workers, nor by the CGI bridge to its scripts.
func TestInheritedFDs(t *testing.T) {
	dir := shortTempDir(t)
	marker := filepath.Join(dir, "parent-secret")
	f, err := os.Create(marker)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conf := cgiPool(t, dir, map[string]string{
		"fds.sh": "printf 'Content-Type: text/plain\\n\\n'\nfor f in /proc/$$/fd/*; do echo \"$f $(readlink $f)\"; done\n",
	}, "") + `
[pool.go]
listen = "{{DIR}}/go.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`
	m := launchMasterWith(t, dir, conf, func(c *exec.Cmd) { c.ExtraFiles = []*os.File{nil, nil, f} })
	m.waitFor("ready to handle connections", 15*time.Second)
	if got := fdsTo(m.cmd.Process.Pid, marker); len(got) != 1 || got[0] != "5" {
		t.Fatalf("the master holds %s on fds %v, want 5 (the test's setup)", marker, got)
	}
	eventually(t, 10*time.Second, "2 workers", func() bool { return len(m.children()) == 2 })
	for _, pid := range m.children() {
		if got := fdsTo(pid, marker); len(got) > 0 {
			t.Errorf("worker %d received the master's inherited fd(s) %v", pid, got)
		}
	}
	code, body := cgiRequest(t, filepath.Join(dir, "cgi.sock"), "/fds.sh", nil)
	if code != 200 || !strings.Contains(body, "/proc/") {
		t.Fatalf("fds.sh: %d %q", code, body)
	}
	if strings.Contains(body, marker) {
		t.Errorf("the CGI script received the master's inherited fd:\n%s", body)
	}
	t.Logf("the script's fds:\n%s", body)
}

// TestAccessLogForgedLine: a Basic-auth user name with a newline, sent to
// a Go worker's pool, gives one access log line with the newline written
// as \x0a, not a second, forged line.
func TestAccessLogForgedLine(t *testing.T) {
	dir := shortTempDir(t)
	logPath := filepath.Join(dir, "access.log")
	startMaster(t, dir, oneWorkerPool+`access_log = "{{DIR}}/access.log"
access_format = '%R - %u "%m %r" %s %{HTTP_X_NOTE}e'  # %R: "-" on a Unix socket
`)
	user := "mallory\n127.0.0.1 - admin \"GET /admin\" 200"
	code, _ := fcgiGet(t, filepath.Join(dir, "www.sock"), "/hello",
		"HTTP_AUTHORIZATION", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":pw")),
		"HTTP_X_NOTE", "a\rb")
	if code != 200 {
		t.Fatalf("GET /hello: %d", code)
	}
	var text string
	eventually(t, 10*time.Second, "the access log line", func() bool {
		b, _ := os.ReadFile(logPath)
		text = string(b)
		return strings.HasSuffix(text, "\n")
	})
	want := `- - mallory\x0a127.0.0.1 - admin \x22GET /admin\x22 200 "GET /hello" 200 a\x0db` + "\n"
	if text != want {
		t.Errorf("access log:\n got %q\nwant %q", text, want)
	}
}

// TestStopChecksPid: `gofpm stop` and `gofpm reload` signal the pid in the
// pid file only when it is the gofpm master of that configuration; a
// stale pid file naming another process, or another config's master, is
// a one-line error and nobody is signalled.
func TestStopChecksPid(t *testing.T) {
	dir := shortTempDir(t)
	pool := oneWorkerPool
	m := startMaster(t, dir, `pid = "{{DIR}}/gofpm.pid"`+pool)
	conf := m.conf
	// A second configuration whose pid file names m: not its master.
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	otherConf := writeConfig(t, other, `pid = "`+dir+`/gofpm.pid"`+pool)

	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	stale := filepath.Join(dir, "stale.pid")
	if err := os.WriteFile(stale, []byte(strconv.Itoa(sleeper.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	gofpm := func(args ...string) (string, error) {
		out, err := exec.Command(bins.gofpm, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stop", "--pid", stale}, "is not gofpm (sleep 60)"},
		{[]string{"stop", "-c", conf, "--pid", stale}, "is not gofpm (sleep 60)"},
		{[]string{"reload", "-R", "-c", conf, "--pid", stale}, "is not gofpm (sleep 60)"},
		{[]string{"stop", "-c", otherConf}, "is the gofpm master of " + conf + ", not of " + otherConf},
		{[]string{"reload", "-R", "-c", otherConf}, "is the gofpm master of " + conf + ", not of " + otherConf},
	} {
		out, err := gofpm(tc.args...)
		if err == nil || !strings.Contains(out, tc.want) || strings.Count(out, "\n") != 0 {
			t.Errorf("gofpm %s: %v %q, want a one-line error with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	if !alive(sleeper.Process.Pid) {
		t.Fatal("the process of the stale pid file was signalled")
	}
	if m.count("reload") > 0 || m.count("stopping") > 0 {
		t.Fatalf("the master was signalled:\n%s", m.logText())
	}
	if out, err := gofpm("stop", "-c", conf); err != nil {
		t.Fatalf("gofpm stop -c %s: %v %s", conf, err, out)
	}
	if code := m.waitExit(20 * time.Second); code != 0 {
		t.Fatalf("master exited %d", code)
	}
}

// TestLogSymlinkPlanted: a root master does not append to the target of a
// symbolic link planted as its slowlog in a folder others can write; it
// refuses to start, with one line.
func TestLogSymlinkPlanted(t *testing.T) {
	dir := shortTempDir(t)
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o1777)
	target := filepath.Join(dir, "shadow")
	if err := os.WriteFile(target, []byte("root:x:0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(shared, "slow.log")); err != nil {
		t.Fatal(err)
	}
	m := launchMaster(t, dir, oneWorkerPool+`slowlog = "{{DIR}}/shared/slow.log"
request_slowlog_timeout = "1s"
`)
	if code := m.waitExit(15 * time.Second); code == 0 {
		t.Fatal("the master started with a planted slowlog link")
	}
	if log := m.logText(); !strings.Contains(log, "is a symbolic link in "+shared+", a folder others can write") {
		t.Errorf("log:\n%s", log)
	}
	if b, _ := os.ReadFile(target); string(b) != "root:x:0:0\n" {
		t.Errorf("the link's target was written: %q", b)
	}
}

// TestExitKeepsOthersSocket: a master that exits removes its socket file
// only if the path still names its own socket. Here its file was removed
// and a second master made a socket at the same path: the first one's
// exit leaves the second one's socket in place, serving.
func TestExitKeepsOthersSocket(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "www.sock")
	pool := `
[pool.www]
listen = "` + sock + `"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`
	first := startMaster(t, dir, pool)
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	otherDir := filepath.Join(dir, "second")
	if err := os.Mkdir(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	second := startMaster(t, otherDir, pool)
	first.cmd.Process.Signal(syscall.SIGTERM)
	first.waitExit(20 * time.Second)
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("the first master's exit removed the second master's socket: %v", err)
	}
	if code, body := fcgiGet(t, sock, "/hello"); code != 200 {
		t.Fatalf("the second master's pool: %d %q", code, body)
	}
	_ = second
}

// TestExamplesSockets: no example or deploy config gives others than the
// socket's owner and group access to a Unix socket (mode o+rw, or any
// o bit at all), and none that runs its workers as whoever starts the
// master (no user: root with -R, as make run does) lets a group or ACL
// in either: whoever reaches a php-cgi or CGI pool's socket runs code as
// its workers.
func TestExamplesSockets(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/pool.toml")
	deploy, _ := filepath.Glob("../../deploy/*/pool.toml")
	files = append(files, deploy...)
	if len(files) < 8 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		cfg, err := config.Load(f, config.LoadOptions{Euid: 0, AllowRoot: true, SkipCommandCheck: true})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for name, p := range cfg.Pools {
			if !p.IsUnix() {
				continue
			}
			if p.ListenPerm&0o007 != 0 {
				t.Errorf("%s: pool %q: listen_mode %04o lets every local user connect", f, name, p.ListenPerm)
			}
			if p.User == "" && (p.ListenGroup != "" || len(p.ListenACLUsers)+len(p.ListenACLGroups) > 0) {
				t.Errorf("%s: pool %q: workers as root (-R) on a socket given to others (listen_group/ACL)", f, name)
			}
		}
	}
}
