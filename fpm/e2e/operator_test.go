package e2e

// A php-fpm operator's habits on the real binary: pool.d/ drop-in files
// (include), php-fpm's command line (Debian's unit and checkconf), syslog,
// access_suppress_path, and workers' JSON lines in a JSON error log.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

// gofpmRun runs the gofpm binary (with -R as root, where the command takes
// it) and returns stdout, stderr and the exit code.
func gofpmRun(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bins.gofpm, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("gofpm %q: %v", args, err)
	}
	return stdout.String(), stderr.String(), 0
}

// rootFlag is -R as root (workers of pools without user run as root).
func rootFlag() []string {
	if os.Geteuid() == 0 {
		return []string{"-R"}
	}
	return nil
}

func goPool(name string) string {
	return fmt.Sprintf("[pool.%s]\nlisten = \"{{DIR}}/%s.sock\"\ncommand = [\"{{HELLO}}\"]\npm = \"static\"\npm_max_children = 1\n", name, name)
}

func writeDropIn(t *testing.T, dir, name, text string) string {
	t.Helper()
	text = strings.NewReplacer("{{DIR}}", dir, "{{HELLO}}", bins.hello).Replace(text)
	p := filepath.Join(dir, "pool.d", name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDropInPools: a master started as Debian's php-fpm unit starts
// php-fpm (--nodaemonize --fpm-config FILE) runs the pools of pool.d/*.toml;
// php-fpm -t checks them; gofpm reload follows the include, refuses an
// included file with an error (at its FILE:LINE:COL, the master keeps
// serving), and takes the mended file.
func TestDropInPools(t *testing.T) {
	dir := shortTempDir(t)
	conf := writeConfig(t, dir, "pid = \"{{DIR}}/gofpm.pid\"\ninclude = [\"pool.d/*.toml\"]\n\n"+goPool("main"))
	writeDropIn(t, dir, "a.toml", "# pool a\n"+goPool("a"))

	stdout, stderr, code := gofpmRun(t, dir, append([]string{"-t", "-y", conf}, rootFlag()...)...)
	if code != 0 || !strings.Contains(stdout, "include pool.d/*.toml: "+filepath.Join(dir, "pool.d/a.toml")+"\n") ||
		!strings.Contains(stdout, "pool a: static, 1 child, listen "+filepath.Join(dir, "a.sock")) {
		t.Fatalf("gofpm -t -y: exit %d\n%s%s", code, stdout, stderr)
	}

	h := startHandedArgs(t, dir, bins.gofpm, []string{"--nodaemonize", "--fpm-config", conf, "--log-format", "json"})
	eventually(t, 15*time.Second, "the master and its two workers", func() bool {
		return h.current() == h.cmd.Process.Pid && len(childrenOf(h.cmd.Process.Pid)) == 2
	})
	for _, p := range []string{"main", "a"} {
		if code, body := fcgiGet(t, filepath.Join(dir, p+".sock"), "/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
			t.Fatalf("pool %s: %d %q", p, code, body)
		}
	}

	// A php-fpm habit in a new drop-in: the reload is refused, with the
	// included file's position, and the master keeps its pools.
	bad := writeDropIn(t, dir, "b.toml", "# pool b\n"+strings.Replace(goPool("b"), "pm_max_children = 1", "pm.max_children = 1", 1))
	_, stderr, code = gofpmRun(t, dir, append([]string{"reload", "-c", conf, "--timeout", "30s"}, rootFlag()...)...)
	wantErr := bad + `:6:1: key "pm.max_children": write pm_max_children (php-fpm's dotted names become underscores)`
	if code != 1 || !strings.Contains(stderr, wantErr+"\n") {
		t.Fatalf("reload with a bad drop-in: exit %d, stderr %q; want 1 and %q", code, stderr, wantErr)
	}
	if h.current() != h.cmd.Process.Pid {
		t.Fatalf("a refused reload replaced the master")
	}

	writeDropIn(t, dir, "b.toml", "# pool b\n"+goPool("b"))
	if stdout, stderr, code := gofpmRun(t, dir, append([]string{"reload", "-c", conf, "--timeout", "30s"}, rootFlag()...)...); code != 0 {
		t.Fatalf("reload: exit %d %s%s", code, stdout, stderr)
	}
	if code, body := fcgiGet(t, filepath.Join(dir, "b.sock"), "/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("pool b after the reload: %d %q", code, body)
	}
}

// TestSyslogErrorLog: error_log = "syslog" sends the master's lines to the
// syslog socket (here the test's own, through syslog_address) as syslog(3)
// sends php-fpm's: facility and severity in <PRI>, ident[pid], "[LEVEL] ".
func TestSyslogErrorLog(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "log.sock")
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conf := writeConfig(t, dir, "error_log = \"syslog\"\nsyslog_facility = \"local3\"\nsyslog_ident = \"web\"\nsyslog_address = \"log.sock\"\n\n"+goPool("www"))
	cmd := exec.Command(bins.gofpm, append([]string{"run", "-c", conf}, rootFlag()...)...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stopOnCleanup(t, cmd, exited, 15*time.Second, nil)
	pid := strconv.Itoa(cmd.Process.Pid)
	var got []string
	buf := make([]byte, 64<<10)
	waitLine := func(re string) string {
		t.Helper()
		want := regexp.MustCompile(re)
		deadline := time.Now().Add(30 * time.Second)
		for {
			for _, l := range got {
				if want.MatchString(l) {
					return l
				}
			}
			d.SetReadDeadline(deadline)
			n, err := d.Read(buf)
			if err != nil {
				t.Fatalf("waiting for a syslog line %s: %v\ngot:\n%s\nstderr: %s", re, err, strings.Join(got, "\n"), stderr.String())
			}
			got = append(got, string(buf[:n]))
		}
	}
	stamp := `[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d`
	// local3 (19) << 3 | notice (5) = 157; warning (4) = 156.
	waitLine(`^<157>` + stamp + ` web\[` + pid + `\]: \[NOTICE\] ready to handle connections$`)
	// The worker serves (so it is the program, not a fork about to exec),
	// then dies by SIGKILL: the master's warning.
	if code, _ := fcgiGet(t, filepath.Join(dir, "www.sock"), "/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	var worker int
	eventually(t, 10*time.Second, "the worker", func() bool {
		k := childrenOf(cmd.Process.Pid)
		if len(k) == 1 {
			worker = k[0]
		}
		return worker > 0
	})
	syscall.Kill(worker, syscall.SIGKILL)
	waitLine(`^<156>` + stamp + ` web\[` + pid + `\]: \[WARNING\] \[pool www\] child ` + strconv.Itoa(worker) + ` exited on signal 9 \(SIGKILL\)`)
	if stderr.String() != "" {
		t.Errorf("with error_log = \"syslog\" the master wrote to stderr: %q", stderr.String())
	}
}

// TestAccessSuppressPath: health probes answered 2xx leave no access line,
// in a Go pool's own lines and in the front's lines for php-cgi; a failed
// probe, a query string or a POST on the same path is still logged.
func TestAccessSuppressPath(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "health.php"), []byte(`<?php if (isset($_GET["fail"])) http_response_code(503); echo "ok\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.go]
listen = "{{DIR}}/go.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
access_log = "{{DIR}}/go.access.log"
access_format = "%m %r%Q%q %s"
access_suppress_path = ["/healthz", "/ping"]

[pool.php]
listen = "{{DIR}}/php.sock"
command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
access_log = "{{DIR}}/php.access.log"
access_format = "%m %r%Q%q %s"
access_suppress_path = ["/health.php"]

[http]
listen = "127.0.0.1:0"
root = "{{DIR}}/www"
default_pool = "php"

[[http.route]]
prefix = "/go"
pool = "go"
`)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
	}
	// The Go pool behind nginx-less FastCGI (its own lines) and through the front.
	for _, uri := range []string{"/healthz", "/healthz?full", "/ping", "/go/app"} {
		if code, _ := fcgiGet(t, filepath.Join(dir, "go.sock"), uri); code != 200 {
			t.Fatalf("GET %s: %d", uri, code)
		}
	}
	do("POST", "/go/x") // routed to go; not a suppressed path anyway
	// The php-cgi pool through the front (the front writes its lines).
	do("GET", "/health.php")
	do("HEAD", "/health.php")
	do("GET", "/health.php?fail=1")
	do("POST", "/health.php")
	do("GET", "/index.php") // no such script: the front's own 404, never the pool's (as nginx's try_files), so not in its log
	wantGo := "GET /healthz?full 200\nGET /go/app 200\nPOST /go/x 200\n"
	wantPHP := "GET /health.php?fail=1 503\nPOST /health.php 200\n"
	eventually(t, 5*time.Second, "the access lines", func() bool {
		g, _ := os.ReadFile(filepath.Join(dir, "go.access.log"))
		p, _ := os.ReadFile(filepath.Join(dir, "php.access.log"))
		return string(g) == wantGo && string(p) == wantPHP
	})
}

// TestWorkerJSONLines: with a JSON error log, a worker's JSON line on
// stderr is an object in the master's line, at the worker's level, and a
// line longer than 1024 bytes stays whole under a larger log_limit.
func TestWorkerJSONLines(t *testing.T) {
	dir := shortTempDir(t)
	long := `{"level":"info","msg":"big","pad":"` + strings.Repeat("x", 1500) + `"}`
	script := "#!/bin/sh\n" +
		"echo '{\"level\":\"ERROR\",\"msg\":\"db down\",\"attempt\":3}' >&2\n" +
		"echo '" + long + "' >&2\n" +
		"echo 'plain text' >&2\n" +
		"exec sleep 600\n"
	os.WriteFile(filepath.Join(dir, "worker.sh"), []byte(script), 0o755)
	m := startMaster(t, dir, `log_limit = 4096

[pool.sh]
listen = "{{DIR}}/sh.sock"
command = ["{{DIR}}/worker.sh"]
pm = "static"
pm_max_children = 1
catch_workers_output = true
`)
	lines := m.waitUntil("three worker lines", 15*time.Second, func(ls []logLine) bool {
		n := 0
		for _, l := range ls {
			if strings.Contains(l.Message, "said into stderr") {
				n++
			}
		}
		return n == 3
	})
	var got []map[string]any
	for _, l := range lines {
		if strings.Contains(l.Message, "said into stderr") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l.raw), &ev); err != nil {
				t.Fatalf("not JSON: %s", l.raw)
			}
			got = append(got, ev)
		}
	}
	obj, _ := got[0]["line"].(map[string]any)
	if got[0]["level"] != "error" || obj["msg"] != "db down" || obj["attempt"] != float64(3) || strings.Contains(got[0]["message"].(string), "db down") {
		t.Errorf("JSON line: %v", got[0])
	}
	big, _ := got[1]["line"].(map[string]any)
	if got[1]["level"] != "info" || big["msg"] != "big" || len(big["pad"].(string)) != 1500 {
		t.Errorf("long JSON line: level %v, line %.80v", got[1]["level"], got[1]["line"])
	}
	if _, ok := got[2]["line"]; ok || got[2]["level"] != "warn" || !strings.HasSuffix(got[2]["message"].(string), `said into stderr: "plain text"`) {
		t.Errorf("text line: %v", got[2])
	}
}

// TestPagesNoDate: the status and ping pages on a Go pool's own socket
// carry the header fields php-fpm sends, as over pm_status_listen, and no
// Date header (net/http/fcgi adds one; the worker's filter takes it out).
// net/http/fcgi still writes its Status line and its own order and case.
func TestPagesNoDate(t *testing.T) {
	dir := shortTempDir(t)
	startMaster(t, dir, goPool("www")+"pm_status_path = \"/status\"\npm_status_listen = \"{{DIR}}/status.sock\"\nping_path = \"/ping\"\n")
	fields := func(head string) []string {
		var out []string
		for _, l := range strings.Split(head, "\r\n") {
			if !strings.HasPrefix(l, "Status: 200") {
				out = append(out, strings.ToLower(l))
			}
		}
		slices.Sort(out)
		return out
	}
	for _, page := range []string{"/status", "/ping"} {
		own, ownBody := splitCGI(t, cgiFCGI(t, filepath.Join(dir, "www.sock"), page, ""))
		master, masterBody := splitCGI(t, cgiFCGI(t, filepath.Join(dir, "status.sock"), page, ""))
		if strings.Contains(strings.ToLower(own), "date:") || !slices.Equal(fields(own), fields(master)) {
			t.Errorf("%s on the pool's socket:\n%s\nwant the fields of pm_status_listen's:\n%s", page, own, master)
		}
		if page == "/ping" && ownBody != masterBody {
			t.Errorf("ping bodies differ: %q and %q", ownBody, masterBody)
		}
	}
}
