package e2e

// End-to-end tests of the status and ping pages: over pm_status_listen, over
// the pool's own socket (Go workers pass the request to the master), over
// the HTTP front, with Debian's cgi-fcgi and with gofpm status / ping.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const statusPool = `
[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = %s
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
ping_path = "/ping"
catch_workers_output = true

[http]
listen = "127.0.0.1:0"
default_pool = "www"
`

// cgiFCGI asks a FastCGI socket with Debian's cgi-fcgi, as container
// health checks do, and returns the CGI response (headers and body).
func cgiFCGI(t *testing.T, sock, script, query string) string {
	t.Helper()
	bin, err := exec.LookPath("cgi-fcgi")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cgi-fcgi is not installed (make deps installs libfcgi-bin)")
		}
		t.Skip("cgi-fcgi not installed; run make deps")
	}
	cmd := exec.Command(bin, "-bind", "-connect", sock)
	cmd.Env = []string{"SCRIPT_NAME=" + script, "SCRIPT_FILENAME=" + script, "REQUEST_METHOD=GET", "QUERY_STRING=" + query}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi %s %s?%s: %v (%q)", sock, script, query, err, out)
	}
	return string(out)
}

// splitCGI splits a CGI response into header block and body.
func splitCGI(t *testing.T, resp string) (string, string) {
	t.Helper()
	h, b, ok := strings.Cut(resp, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header block in %q", resp)
	}
	return h, b
}

func TestStatusPages(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, strings.Replace(statusPool, "%s", "2", 1))
	m.waitUntil("2 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 2 })
	for _, sock := range []string{filepath.Join(dir, "status.sock"), filepath.Join(dir, "www.sock")} {
		hdr, body := splitCGI(t, cgiFCGI(t, sock, "/status", "json"))
		if !strings.Contains(strings.ToLower(hdr), "content-type: application/json") {
			t.Errorf("%s: JSON status headers %q", sock, hdr)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("%s: status JSON %q: %v", sock, body, err)
		}
		if st["pool"] != "www" || st["process manager"] != "static" {
			t.Errorf("%s: pool/pm = %v/%v", sock, st["pool"], st["process manager"])
		}
		if n := st["total processes"].(float64); n != 2 {
			t.Errorf("%s: total processes %v, want 2", sock, n)
		}
		_, body = splitCGI(t, cgiFCGI(t, sock, "/ping", ""))
		if body != "pong" {
			t.Errorf("%s: ping answered %q", sock, body)
		}
	}
	// The text page over pm_status_listen, with php-fpm's header order.
	hdr, body := splitCGI(t, cgiFCGI(t, filepath.Join(dir, "status.sock"), "/status", "full"))
	if want := "Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\nCache-Control: no-cache, no-store, must-revalidate, max-age=0\r\nContent-type: text/plain;charset=UTF-8"; hdr != want {
		t.Errorf("text headers %q, want %q", hdr, want)
	}
	for _, field := range []string{"pool:                 www\n", "process manager:      static\n", "listen queue len:     511\n", "total processes:      2\n", "pid:                  ", "state:                Idle\n"} {
		if !strings.Contains(body, field) {
			t.Errorf("text status lacks %q:\n%s", field, body)
		}
	}
	// Not a page: php-fpm's 404.
	if resp := cgiFCGI(t, filepath.Join(dir, "status.sock"), "/other", ""); !strings.HasPrefix(resp, "Status: 404") {
		t.Errorf("unknown page: %q", resp)
	}

	// gofpm ping and gofpm status.
	out, err := exec.Command(bins.gofpm, "ping", "-s", "unix:"+filepath.Join(dir, "status.sock")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "pong" {
		t.Errorf("gofpm ping: %v %q", err, out)
	}
	out, err = exec.Command(bins.gofpm, "ping", "-s", "unix:"+filepath.Join(dir, "status.sock"), "--path", "/nope").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "HTTP 404") {
		t.Errorf("gofpm ping of a wrong path: %v %q", err, out)
	}
	out, err = exec.Command(bins.gofpm, "status", "-s", filepath.Join(dir, "www.sock"), "--format", "openmetrics").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "phpfpm_total_processes 2\n") {
		t.Errorf("gofpm status --format openmetrics: %v %q", err, out)
	}

	// The HTTP front answers the pages itself.
	c := &http.Client{Timeout: 5 * time.Second}
	code, body := httpGet(t, c, m.frontURL()+"/status?json&full")
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("front /status?json&full: %d %q %v", code, body, err)
	}
	if procs, _ := st["processes"].([]any); len(procs) != 2 {
		t.Errorf("front: %d processes in the full status, want 2", len(procs))
	}
}

// TestStatusBusy: with every worker busy and clients waiting, the status
// page over pm_status_listen still answers, shows the busy worker as
// Running with its request, and a non-zero listen queue on a Unix socket.
func TestStatusBusy(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, strings.Replace(statusPool, "%s", "1", 1))
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { httpGet(t, c, base+"/sleep?ms=2000") })
	}
	defer wg.Wait()
	m.waitFor("sleeping 2000 ms", 5*time.Second)
	var body string
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, body = splitCGI(t, cgiFCGI(t, filepath.Join(dir, "status.sock"), "/status", "full"))
		if strings.Contains(body, "listen queue:         3\n") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"listen queue:         3\n", "active processes:     1\n", "state:                Running\n", "request URI:          /sleep?ms=2000\n", "request method:       GET\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("busy status lacks %q:\n%s", want, body)
		}
	}
	if !bytes.Contains([]byte(body), []byte("max listen queue:     3\n")) {
		t.Errorf("max listen queue not 3:\n%s", body)
	}
}

// TestMetrics: the front's /metrics has every pool's counters with a pool
// label, the request-duration histogram and recycle reasons, no pid labels.
func TestMetrics(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, strings.Replace(statusPool, "%s", "2", 1)+"metrics_path = \"/metrics\"\n")
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		httpGet(t, c, base+"/sleep?ms=30")
		httpGet(t, c, base+"/")
	}
	m.waitUntil("2 children", 5*time.Second, func([]logLine) bool { return len(m.children()) == 2 })
	victim := m.children()[0]
	syscallKill(t, victim)
	m.waitFor(fmt.Sprintf("child %d exited on signal 9", victim), 5*time.Second)
	m.waitUntil("a replacement", 5*time.Second, func([]logLine) bool { return len(m.children()) == 2 })
	code, body := httpGet(t, c, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"# TYPE gofpm_request_duration_seconds histogram\n",
		`gofpm_recycled_total{pool="www",reason="crash"} 1` + "\n",
		`gofpm_spawned_total{pool="www"} 3` + "\n",
		`gofpm_max_children{pool="www"} 2` + "\n",
		`gofpm_request_duration_seconds_bucket{pool="www",le="0.05"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// 6 requests were served by Go workers: the histogram counts them
	// (the killed worker's count included, if it served any).
	var count int
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, `gofpm_request_duration_seconds_count{pool="www"} `) {
			fmt.Sscan(strings.Fields(line)[1], &count)
		}
	}
	if count < 6 {
		t.Errorf("request count %d, want at least 6:\n%s", count, body)
	}
	if strings.Contains(body, "pid=") {
		t.Errorf("per-pid labels in /metrics")
	}
}

func syscallKill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}
