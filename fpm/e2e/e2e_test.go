package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const helloPool = `
process_control_timeout = "5s"

[pool.hello]
listen = "{{DIR}}/hello.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = %d
catch_workers_output = true

[http]
listen = "127.0.0.1:0"
default_pool = "hello"
`

var pidRe = regexp.MustCompile(`pid=(\d+)`)

func pidOf(t *testing.T, body string) int {
	t.Helper()
	m := pidRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no pid= in %q", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestHTTPFront: requests through the built-in HTTP front reach the
// pre-forked Go workers, bodies stream both ways, params are nginx's.
func TestHTTPFront(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 4))
	base := m.frontURL()
	c := &http.Client{Timeout: 15 * time.Second}

	m.waitUntil("4 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 4 })
	kids := m.children()

	code, body := httpGet(t, c, base+"/")
	if code != 200 || !strings.HasPrefix(body, "hello from gofpm worker pid=") {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if pid := pidOf(t, body); !slices.Contains(kids, pid) {
		t.Fatalf("answered by pid %d, not one of the master's children %v", pid, kids)
	}

	// A body larger than one FastCGI record, both ways.
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes
	resp, err := c.Post(base+"/echo", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, big) {
		t.Fatalf("POST /echo: %d, %d bytes back of %d", resp.StatusCode, len(got), len(big))
	}

	code, body = httpGet(t, c, base+"/env?x=1&y=2")
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil || code != 200 {
		t.Fatalf("GET /env = %d %q: %v", code, body, err)
	}
	for k, want := range map[string]string{
		"REQUEST_METHOD": "GET", "QUERY_STRING": "x=1&y=2", "REQUEST_URI": "/env?x=1&y=2",
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
		"DOCUMENT_URI": "/env", "REDIRECT_STATUS": "200", "REQUEST_SCHEME": "http",
	} {
		if env[k] != want {
			t.Errorf("param %s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"SERVER_SOFTWARE", "SERVER_ADDR", "SERVER_PORT", "REMOTE_PORT", "HTTP_HOST", "SCRIPT_FILENAME"} {
		if env[k] == "" {
			t.Errorf("param %s missing: %v", k, env)
		}
	}

	// Load spreads over the workers: 4 requests in flight at once are
	// served by 4 different processes (one request per worker at a time).
	pids := make(chan int, 4)
	for range 4 {
		go func() {
			_, b := httpGet(t, c, base+"/sleep?ms=300")
			pids <- pidOf(t, b)
		}()
	}
	seen := map[int]bool{}
	for range 4 {
		seen[<-pids] = true
	}
	if len(seen) != 4 {
		t.Errorf("4 concurrent requests served by %d workers, want 4: %v", len(seen), seen)
	}
}

// TestFrontStreams: the front passes a response on as the worker flushes
// it (server-sent events), not when it ends.
func TestFrontStreams(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 1))
	start := time.Now()
	resp, err := http.Get(m.frontURL() + "/stream?n=2&ms=3000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "tick 1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	// The second tick comes 3 s later; the first must not wait for it.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("first tick arrived after %s: the response was buffered", d)
	}
}

// TestFrontPoolDown: the front answers 502 when the pool cannot answer.
func TestFrontPoolDown(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 1))
	base := m.frontURL()
	c := &http.Client{Timeout: 15 * time.Second}
	// /crash exits the worker mid-request: the front sees the connection
	// close before FCGI_END_REQUEST.
	code, _ := httpGet(t, c, base+"/crash")
	if code != http.StatusBadGateway {
		t.Fatalf("GET /crash = %d, want 502", code)
	}
	m.waitFor("exited with code 3 after", 5*time.Second)
	// The pool heals: the next request is served by the replacement.
	m.waitUntil("a replacement", 5*time.Second, func([]logLine) bool { return len(m.children()) == 1 })
	if code, body := httpGet(t, c, base+"/"); code != 200 {
		t.Fatalf("after crash: GET / = %d %q", code, body)
	}
}

// TestNginxGoPool: nginx's fastcgi_pass to the pool's Unix socket.
func TestNginxGoPool(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 2))
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "hello.sock")))
	kids := m.children()

	code, body := httpGet(t, ng.client, "http://localhost/")
	if code != 200 || !slices.Contains(kids, pidOf(t, body)) {
		t.Fatalf("GET / via nginx = %d %q (children %v)", code, body, kids)
	}
	big := strings.Repeat("x", 200_000)
	resp, err := ng.client.Post("http://localhost/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != big {
		t.Fatalf("POST /echo via nginx: %d, %d bytes back", resp.StatusCode, len(got))
	}
	code, body = httpGet(t, ng.client, "http://localhost/env?a=b")
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil || code != 200 {
		t.Fatalf("GET /env = %d %q", code, body)
	}
	if env["SCRIPT_FILENAME"] != dir+"/env" || env["QUERY_STRING"] != "a=b" {
		t.Errorf("nginx params: SCRIPT_FILENAME=%q QUERY_STRING=%q", env["SCRIPT_FILENAME"], env["QUERY_STRING"])
	}
}

// TestNginxPHPPool: php-cgi workers behind nginx.
func TestNginxPHPPool(t *testing.T) {
	const phpCGI = "/usr/bin/php-cgi8.2"
	if _, err := os.Stat(phpCGI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("php-cgi is not installed (make deps installs it)")
		}
		t.Skip("php-cgi8.2 not installed; run make deps")
	}
	dir := shortTempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<?php echo "php says pid=", getmypid(), " q=", $_SERVER["QUERY_STRING"], "\n";`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
listen_mode = "0666"
command = ["`+phpCGI+`"]
pm = "static"
pm_max_children = 2
worker_graceful_signal = "SIGTERM"
catch_workers_output = true
`)
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "php.sock")))
	kids := m.children()
	for i := range 3 {
		code, body := httpGet(t, ng.client, fmt.Sprintf("http://localhost/index.php?n=%d", i))
		if code != 200 || !strings.HasPrefix(body, "php says pid=") || !strings.Contains(body, fmt.Sprintf("q=n=%d", i)) {
			t.Fatalf("GET index.php via nginx = %d %q", code, body)
		}
		if pid := pidOf(t, body); !slices.Contains(kids, pid) {
			t.Fatalf("answered by %d, not a child of the master %v", pid, kids)
		}
	}
	// A graceful stop lets php-cgi go on its own signal.
	m.cmd.Process.Signal(syscall.SIGQUIT)
	if code := m.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("master exit code %d after SIGQUIT", code)
	}
	for _, pid := range kids {
		if alive(pid) {
			t.Errorf("php-cgi %d still alive after the master stopped", pid)
		}
	}
}

// TestKillWorker: a worker killed with SIGKILL is replaced by a new pid that
// serves within a second, and the pool is back to its size.
func TestKillWorker(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 3))
	base := m.frontURL()
	m.waitUntil("3 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 3 })
	before := m.children()
	victim := before[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	m.waitFor(fmt.Sprintf("child %d exited on signal 9 (SIGKILL)", victim), 2*time.Second)
	m.waitUntil("a replacement", time.Second, func([]logLine) bool {
		k := m.children()
		return len(k) == 3 && !slices.Contains(k, victim)
	})
	after := m.children()
	var fresh int
	for _, p := range after {
		if !slices.Contains(before, p) {
			fresh = p
		}
	}
	// The replacement serves: 3 requests in flight at once need all 3
	// workers (one request per worker at a time), the new one included.
	c := &http.Client{Timeout: 5 * time.Second}
	pids := make(chan int, 3)
	for range 3 {
		go func() {
			_, body := httpGet(t, c, base+"/sleep?ms=300")
			pids <- pidOf(t, body)
		}()
	}
	served := map[int]bool{}
	for range 3 {
		served[<-pids] = true
	}
	if !served[fresh] {
		t.Fatalf("replacement %d did not answer; answers came from %v", fresh, served)
	}
	if d := time.Since(killed); d > time.Second+300*time.Millisecond {
		t.Errorf("replacement answered %s after the kill, want < 1s plus the 300ms request", d)
	}
}

// TestGracefulStop: SIGQUIT with a request in flight: the request completes
// with 200, the master exits 0, no worker remains, the socket file is gone.
func TestGracefulStop(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 2))
	base := m.frontURL()
	kids := m.workerPids()

	res := getAsync(http.DefaultClient, base+"/sleep?ms=1500")
	// The worker says on stderr when the sleep starts (catch_workers_output).
	m.waitFor("sleeping 1500 ms", 10*time.Second)
	if err := m.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || r.code != 200 || !strings.HasPrefix(r.body, "slept 1500 ms") {
		t.Fatalf("in-flight request: %d %q %v", r.code, r.body, r.err)
	}
	if code := m.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("master exit code %d, want 0", code)
	}
	for _, pid := range kids {
		if alive(pid) {
			t.Errorf("worker %d still alive", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hello.sock")); !os.IsNotExist(err) {
		t.Errorf("socket file still there: %v", err)
	}
	m.waitFor("exiting, bye-bye!", time.Second)
}

// TestFastStop: SIGTERM stops everything at once and exits 0.
func TestFastStop(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, "pid = \"{{DIR}}/gofpm.pid\"\n"+fmt.Sprintf(helloPool, 2))
	m.waitUntil("2 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 2 })
	kids := m.children()
	b, err := os.ReadFile(filepath.Join(dir, "gofpm.pid"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(m.cmd.Process.Pid) {
		t.Fatalf("pid file: %q %v", b, err)
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	if code := m.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, pid := range kids {
		if alive(pid) {
			t.Errorf("worker %d still alive", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gofpm.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file not removed: %v", err)
	}
}

// TestMasterKilled: workers never outlive the master, even after SIGKILL.
func TestMasterKilled(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 3))
	m.waitUntil("3 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 3 })
	kids := m.children()
	m.cmd.Process.Kill()
	m.waitExit(5 * time.Second)
	eventually(t, 2*time.Second, "workers to die with the master", func() bool {
		for _, pid := range kids {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

// TestCommandMissing: a command that does not exist is a clear error at
// start, not a spawn storm.
func TestCommandMissing(t *testing.T) {
	dir := shortTempDir(t)
	conf := writeConfig(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{DIR}}/no-such-program"]
pm = "static"
pm_max_children = 2
`)
	args := []string{"run", "-c", conf, "-R"}
	out, err := exec.Command(bins.gofpm, args...).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 78 {
		t.Fatalf("exit %v, want code 78; output %q", err, out)
	}
	want := conf + `:4:1: pool "www": command: "` + dir + `/no-such-program" not found`
	if !strings.Contains(string(out), want) {
		t.Fatalf("output %q does not contain %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "www.sock")); !os.IsNotExist(err) {
		t.Errorf("socket created despite the error")
	}
}

// TestCommandExitsAtOnce: a worker that exits at once is respawned with a
// growing delay, not in a storm.
func TestCommandExitsAtOnce(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["/bin/sh", "-c", "exit 1"]
pm = "static"
pm_max_children = 2
`)
	// Wait until the back-off has reached 800 ms: 2 children per round,
	// delays 100, 200, 400, 800 ms → about 1.5 s of waiting.
	m.waitFor("next spawn in 800ms", 15*time.Second)
	spawns := m.count(" started")
	// Each round starts at most 2 children; the delay doubles once per
	// round: 2 children at start plus 4 rounds (100, 200, 400, 800 ms).
	if spawns > 10 {
		t.Errorf("%d spawns before the back-off reached 800ms, want at most 10", spawns)
	}
	if n := m.count("exited with code 1 after"); n == 0 {
		t.Errorf("no exit lines logged")
	}
}

// TestConfigErrorsCLI: gofpm check prints FILE:LINE:COL: message and exits 1.
func TestConfigErrorsCLI(t *testing.T) {
	dir := shortTempDir(t)
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"unknown key", "[pool.www]\nlisten = \"/tmp/x.sock\"\nlistn = 1\ncommand = [\"/bin/true\"]\npm = \"static\"\npm_max_children = 1\n",
			`:3:1: unknown key "pool.www.listn" (did you mean "listen"?)`},
		{"bad max children", "[pool.www]\nlisten = \"/tmp/x.sock\"\ncommand = [\"/bin/true\"]\npm = \"static\"\npm_max_children = 0\n",
			`:5:1: pool "www": pm_max_children must be a positive value`},
		{"syntax", "[pool.www\n", ":1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			os.WriteFile(path, []byte(tc.conf), 0o644)
			cmd := exec.Command(bins.gofpm, "check", "-c", path, "-R")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1; stderr %q", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), path+tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), path+tc.want)
			}
		})
	}
	// A valid file: exit 0 and one summary line per pool.
	path := writeConfig(t, dir, fmt.Sprintf(helloPool, 4))
	out, err := exec.Command(bins.gofpm, "check", "-c", path, "-R").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pool hello: static, 4 children") {
		t.Fatalf("check of a good file: %v %q", err, out)
	}
}

var _ = context.Background

// TestUserNobody: a root master runs a pool with user = "nobody" as nobody
// (real and effective uid and gid, supplementary groups dropped), and
// refuses a pool without user unless -R.
func TestUserNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs a root master")
	}
	dir := shortTempDir(t)
	conf := `
[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0666"
user = "nobody"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
`
	// Without user and without -R: refused, by check and by run.
	noUser := writeConfig(t, dir, strings.Replace(conf, `user = "nobody"`, "", 1))
	for _, cmd := range []string{"check", "run"} {
		out, err := exec.Command(bins.gofpm, cmd, "-c", noUser).CombinedOutput()
		if err == nil || !strings.Contains(string(out), `pool "www": user has not been defined`) {
			t.Fatalf("%s without user and -R: %v %q", cmd, err, out)
		}
	}

	m := launchMaster(t, dir, conf)
	m.waitFor("ready to handle connections", 10*time.Second)
	m.waitUntil("2 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 2 })
	for _, pid := range m.children() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		st := string(b)
		for _, want := range []string{`(?m)^Uid:\t65534\t65534\t65534\t65534$`, `(?m)^Gid:\t65534\t65534\t65534\t65534$`, `(?m)^Groups:\s*$`} {
			if !regexp.MustCompile(want).MatchString(st) {
				t.Errorf("worker %d: /proc status does not match %s:\n%s", pid, want, st)
			}
		}
	}
}
