package e2e

// This file builds the real binaries and starts real processes for the
// end-to-end tests: the gofpm master, its workers, nginx and php-cgi.
// Every process a test starts is stopped by pid in t.Cleanup.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bins struct {
	dir   string
	gofpm string
	hello string
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (these tests start real processes)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "gofpm-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	os.Chmod(dir, 0o755) // workers may run as another user (TestUserNobody)
	bins.gofpm = filepath.Join(dir, "gofpm")
	bins.hello = filepath.Join(dir, "hello")
	build := func(out, pkg string) {
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	build(bins.gofpm, "github.com/gofpm/gofpm")
	build(bins.hello, "github.com/gofpm/gofpm/examples/hello")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shortTempDir returns a temp dir short enough for Unix socket paths,
// removed after the test.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gofpm")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// logLine is one JSON line of the master's log.
type logLine struct {
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Pool    string    `json:"pool"`
	Pid     int       `json:"pid"`
	Stream  string    `json:"stream"`
	Time    time.Time `json:"time"`
	raw     string
}

// master is a running gofpm master.
type master struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	conf string

	mu     sync.Mutex
	lines  []logLine
	cond   chan struct{} // closed and replaced on every new line
	exited chan struct{}
	err    error // Wait result, valid after exited is closed
}

// writeConfig writes text as pool.toml in dir, with {{DIR}} and {{HELLO}}
// replaced.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	text = strings.NewReplacer("{{DIR}}", dir, "{{HELLO}}", bins.hello).Replace(text)
	path := filepath.Join(dir, "pool.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startMaster starts gofpm on the config text and waits until it is ready.
func startMaster(t *testing.T, dir, text string, args ...string) *master {
	t.Helper()
	m := launchMaster(t, dir, text, args...)
	m.waitFor("ready to handle connections", 15*time.Second)
	return m
}

// launchMaster starts gofpm without waiting for readiness.
func launchMaster(t *testing.T, dir, text string, args ...string) *master {
	t.Helper()
	return launchMasterWith(t, dir, text, nil, args...)
}

// launchMasterWith is launchMaster with setup called on the command
// before it starts (extra files, environment).
func launchMasterWith(t *testing.T, dir, text string, setup func(*exec.Cmd), args ...string) *master {
	t.Helper()
	conf := writeConfig(t, dir, text)
	m := &master{t: t, dir: dir, conf: conf, cond: make(chan struct{}), exited: make(chan struct{})}
	all := append([]string{"run", "-c", conf, "--log-format", "json", "--log-level", "debug"}, args...)
	if os.Geteuid() == 0 {
		all = append(all, "-R")
	}
	m.cmd = exec.Command(bins.gofpm, all...)
	m.cmd.Dir = dir
	if setup != nil {
		setup(m.cmd)
	}
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go m.read(stderr)
	t.Cleanup(m.kill)
	return m
}

func (m *master) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l.Message = sc.Text()
		}
		l.raw = sc.Text()
		m.mu.Lock()
		m.lines = append(m.lines, l)
		close(m.cond)
		m.cond = make(chan struct{})
		m.mu.Unlock()
	}
	m.err = m.cmd.Wait()
	close(m.exited)
	m.mu.Lock()
	close(m.cond)
	m.cond = make(chan struct{})
	m.mu.Unlock()
}

// kill stops the master and every worker it started (by pid), whatever
// state the test left them in.
func (m *master) kill() {
	select {
	case <-m.exited:
	default:
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(15 * time.Second):
			m.cmd.Process.Kill()
			<-m.exited
		}
	}
	for _, pid := range m.workerPids() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if m.t.Failed() {
		m.t.Logf("master log:\n%s", m.logText())
	}
}

func (m *master) logText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, l := range m.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// snapshot returns the log lines so far and a channel closed on the next one.
func (m *master) snapshot() ([]logLine, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]logLine(nil), m.lines...), m.cond
}

// waitUntil waits until f holds for the log, failing the test after d.
func (m *master) waitUntil(what string, d time.Duration, f func([]logLine) bool) []logLine {
	m.t.Helper()
	deadline := time.After(d)
	for {
		lines, next := m.snapshot()
		if f(lines) {
			return lines
		}
		select {
		case <-next:
		case <-m.exited:
			if lines, _ := m.snapshot(); f(lines) {
				return lines
			}
			m.t.Fatalf("master exited (%v) while waiting for %s\nlog:\n%s", m.err, what, m.logText())
		case <-deadline:
			m.t.Fatalf("timed out after %s waiting for %s\nlog:\n%s", d, what, m.logText())
		}
	}
}

// waitFor waits for a log line containing s and returns it.
func (m *master) waitFor(s string, d time.Duration) logLine {
	m.t.Helper()
	var found logLine
	m.waitUntil(fmt.Sprintf("log line %q", s), d, func(ls []logLine) bool {
		for _, l := range ls {
			if strings.Contains(l.Message, s) {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// count returns how many log lines contain s.
func (m *master) count(s string) int {
	lines, _ := m.snapshot()
	n := 0
	for _, l := range lines {
		if strings.Contains(l.Message, s) {
			n++
		}
	}
	return n
}

// workerPids lists every child pid the master ever logged as started.
func (m *master) workerPids() []int {
	lines, _ := m.snapshot()
	var pids []int
	for _, l := range lines {
		if strings.HasSuffix(l.Message, " started") && strings.Contains(l.Message, "] child ") {
			pids = append(pids, l.Pid)
		}
	}
	return pids
}

// children returns the pids of the master's live child processes, from /proc.
func (m *master) children() []int {
	return childrenOf(m.cmd.Process.Pid)
}

func childrenOf(ppid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[1] == strconv.Itoa(ppid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// waitExit waits for the master to exit and returns its exit code.
func (m *master) waitExit(d time.Duration) int {
	m.t.Helper()
	select {
	case <-m.exited:
	case <-time.After(d):
		m.t.Fatalf("master did not exit within %s\nlog:\n%s", d, m.logText())
	}
	var ee *exec.ExitError
	if errors.As(m.err, &ee) {
		return ee.ExitCode()
	}
	if m.err != nil {
		m.t.Fatalf("waiting for master: %v", m.err)
	}
	return 0
}

// frontURL returns the base URL of the HTTP front, read from the log.
func (m *master) frontURL() string {
	m.t.Helper()
	l := m.waitFor("HTTP front listening on ", 10*time.Second)
	rest := strings.TrimPrefix(l.Message[strings.Index(l.Message, "listening on "):], "listening on ")
	addr, _, _ := strings.Cut(rest, ",")
	addr, _, _ = strings.Cut(addr, " ")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return addr
}

// eventually polls cond until it holds or d passes; for state only the
// kernel knows (process tables), where there is no event to wait on.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// httpGet does a GET with a deadline and returns status and body.
func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// unixHTTPClient returns an HTTP client that dials the Unix socket path
// answer is the outcome of a request made by getAsync.
type answer struct {
	code int
	body string
	err  error
}

// getAsync GETs url with c in a goroutine (a request kept in flight while
// the test stops something) and delivers the outcome on the channel.
func getAsync(c *http.Client, url string) <-chan answer {
	got := make(chan answer, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	return got
}

// (nginx listening on a socket in the test's temp dir).
func unixHTTPClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

// nginx is a running nginx listening on a Unix socket.
type nginx struct {
	cmd    *exec.Cmd
	sock   string
	client *http.Client
}

const nginxBin = "/usr/sbin/nginx"

// startNginx runs nginx with the given server-block body (locations),
// listening on a Unix socket in dir. It skips the test when nginx is not
// installed (make deps installs it).
func startNginx(t *testing.T, dir, locations string, httpExtra ...string) *nginx {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is not installed (make deps installs it): %v", err)
		}
		t.Skip("nginx is not installed; run make deps")
	}
	nd := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(nd, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(nd, "http.sock")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    fastcgi_temp_path %[2]s/fastcgi;
    proxy_temp_path %[2]s/proxy;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    %[6]s
    server {
        listen unix:%[3]s;
        server_name localhost;
        root %[4]s;
        %[5]s
    }
}
`, user, nd, sock, dir, locations, strings.Join(httpExtra, "\n    "))
	cf := filepath.Join(nd, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-c", cf, "-p", nd)
	out, err := os.Create(filepath.Join(nd, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(nd, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	eventually(t, 10*time.Second, "nginx socket", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return &nginx{cmd: cmd, sock: sock, client: unixHTTPClient(sock)}
}

// fastcgiLocation is an nginx location passing everything to a pool socket.
func fastcgiLocation(sock string) string {
	return fmt.Sprintf(`location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass unix:%s;
        }`, sock)
}

// handedMaster is a master whose later generations (after reloads) the
// test follows through the pid file and a shared log file, since a reload
// replaces the process the test started.
type handedMaster struct {
	cmd     *exec.Cmd
	logPath string
	pidFile string
}

// startHanded starts bin (gofpm) on conf with its log in dir/master.log and
// extra environment; the config must set pid = "{{DIR}}/gofpm.pid". Every
// generation is stopped by pid at cleanup.
func startHanded(t *testing.T, dir, bin, conf string, env ...string) *handedMaster {
	t.Helper()
	return startHandedArgs(t, dir, bin, []string{"run", "-c", conf, "--log-format", "json"}, env...)
}

// startHandedArgs is startHanded with the command line's arguments (-R is
// added as root).
func startHandedArgs(t *testing.T, dir, bin string, args []string, env ...string) *handedMaster {
	t.Helper()
	h := &handedMaster{logPath: filepath.Join(dir, "master.log"), pidFile: filepath.Join(dir, "gofpm.pid")}
	logf, err := os.Create(h.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	}
	h.cmd = exec.Command(bin, args...)
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go h.cmd.Wait()
	t.Cleanup(func() {
		for _, pid := range []int{h.current(), h.cmd.Process.Pid} {
			if pid > 0 && alive(pid) {
				syscall.Kill(pid, syscall.SIGTERM)
				eventually(t, 15*time.Second, "master gone", func() bool { return !alive(pid) })
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(h.logPath)
			t.Logf("masters' log:\n%s", b)
		}
	})
	return h
}

// current is the pid in the pid file: the master in charge.
func (h *handedMaster) current() int {
	b, _ := os.ReadFile(h.pidFile)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// logCount counts the lines of every generation's log containing s.
func (h *handedMaster) logCount(s string) int {
	b, _ := os.ReadFile(h.logPath)
	return strings.Count(string(b), s)
}

// stopOnCleanup stops a started process when the test ends: SIGTERM, then
// SIGKILL after grace, and SIGKILL to the children it had (a master's
// workers), by pid. exited is closed when cmd.Wait has returned.
func stopOnCleanup(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration, after func()) {
	t.Cleanup(func() {
		kids := childrenOf(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-exited
		}
		for _, k := range kids {
			if alive(k) {
				syscall.Kill(k, syscall.SIGKILL)
			}
		}
		if after != nil {
			after()
		}
	})
}
