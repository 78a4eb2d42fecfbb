package e2e

// End-to-end tests of the process managers and request timeouts, against
// the real gofpm binary, real Go and php-cgi workers and real nginx.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOndemand: a pool at 0 processes answers its first request through
// nginx, then goes back to 0 after pm_process_idle_timeout.
func TestOndemand(t *testing.T) {
	testOndemand(t, `command = ["{{HELLO}}"]`, "/", "hello from gofpm worker")
}

// testOndemand runs an ondemand pool of the given command lines: no
// process at start, the first request through nginx starts one and gets
// an answer starting with want, the idle timeout brings the pool back to 0.
func testOndemand(t *testing.T, command, path, want string) {
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "i.php"), []byte(`<?php echo "php pid=", getmypid(), "\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.od]
listen = "{{DIR}}/od.sock"
listen_mode = "0666"
`+command+`
pm = "ondemand"
pm_max_children = 2
pm_process_idle_timeout = "2s"
`)
	if n := len(m.children()); n != 0 {
		t.Fatalf("ondemand pool started with %d processes, want 0", n)
	}
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "od.sock")))
	code, body := httpGet(t, ng.client, "http://localhost"+path)
	if code != 200 || !strings.HasPrefix(body, want) {
		t.Fatalf("first request: %d %q", code, body)
	}
	if n := len(m.children()); n != 1 {
		t.Fatalf("%d processes after the first request, want 1", n)
	}
	m.waitFor("has been killed by the process management", 10*time.Second)
	eventually(t, 2*time.Second, "0 processes", func() bool { return len(m.children()) == 0 })
}

// TestDynamicGrowShrink: 16 clients holding /sleep?ms=300 for 5 s grow a
// dynamic pool to pm_max_children (6) with one warning; after the load it
// shrinks to pm_max_spare_servers, one worker per second; no request fails.
func TestDynamicGrowShrink(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.dyn]
listen = "{{DIR}}/dyn.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "dynamic"
pm_max_children = 6
pm_start_servers = 2
pm_min_spare_servers = 2
pm_max_spare_servers = 3

[http]
listen = "127.0.0.1:0"
default_pool = "dyn"
`)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(5 * time.Second)
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(end) {
				resp, err := c.Get(base + "/sleep?ms=300")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				ok.Add(1)
			}
		})
	}
	m.waitFor("6 running children", 10*time.Second)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed (%d ok)", failed.Load(), ok.Load())
	}
	if n := m.count("server reached pm_max_children setting (6), consider raising it"); n != 1 {
		t.Errorf("max_children warning logged %d times, want 1", n)
	}
	// Shrink: 6 → 3 idle workers, one retire per tick.
	lines := m.waitUntil("3 retires", 15*time.Second, func(ls []logLine) bool {
		n := 0
		for _, l := range ls {
			if strings.Contains(l.Message, "has been killed by the process management") {
				n++
			}
		}
		return n >= 3
	})
	var at []time.Time
	for _, l := range lines {
		if strings.Contains(l.Message, "has been killed by the process management") {
			at = append(at, l.Time)
		}
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < 900*time.Millisecond {
			t.Errorf("retires %d and %d only %s apart, want one per second", i, i+1, d)
		}
	}
	eventually(t, 3*time.Second, "3 processes", func() bool { return len(m.children()) == 3 })
}

// TestPHPDynamicBusy: php-cgi knows nothing of gofpm; the master still
// sees which workers are busy (from the kernel) and spawns when the spare
// workers run out.
func TestPHPDynamicBusy(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "sleep.php"), []byte(`<?php usleep(2000000); echo "slept pid=", getmypid(), "\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
listen_mode = "0666"
command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"
pm = "dynamic"
pm_max_children = 8
pm_start_servers = 4
pm_min_spare_servers = 2
pm_max_spare_servers = 6
`)
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "php.sock")))
	m.waitFor("currently 0 active children, 4 spare children, 4 running children", 10*time.Second)
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for range 3 {
		wg.Go(func() {
			code, _ := httpGet(t, ng.client, "http://localhost/sleep.php")
			codes <- code
		})
	}
	m.waitFor("currently 3 active children, 1 spare children, 4 running children", 5*time.Second)
	m.waitFor("child(ren) have been created dynamically", 5*time.Second)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("request answered %d", c)
		}
	}
}

// TestTerminateTimeout: a request running past request_terminate_timeout
// is cut: nginx answers 502 within about 1-2 s, the worker is replaced.
func TestTerminateTimeout(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.t]
listen = "{{DIR}}/t.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
request_terminate_timeout = "1s"
`)
	victim := m.waitFor("] child ", 5*time.Second).Pid
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "t.sock")))
	start := time.Now()
	code, _ := httpGet(t, ng.client, "http://localhost/sleep?ms=10000")
	took := time.Since(start)
	if code != 502 && code != 504 {
		t.Fatalf("status %d, want 502 or 504", code)
	}
	if took < time.Second || took > 2500*time.Millisecond {
		t.Errorf("answered after %s, want about 1-2 s", took)
	}
	m.waitFor(fmt.Sprintf("child %d, script", victim), time.Second)
	m.waitFor("execution timed out", time.Second)
	m.waitUntil("a replacement", 3*time.Second, func([]logLine) bool {
		k := m.children()
		return len(k) == 1 && k[0] != victim
	})
	if code, body := httpGet(t, ng.client, "http://localhost/"); code != 200 {
		t.Fatalf("after the timeout: %d %q", code, body)
	}
}

// TestSlowlogGoStack: a slow request of a Go worker gets a slowlog entry
// with the stack of the goroutine serving it, naming the handler.
func TestSlowlogGoStack(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.s]
listen = "{{DIR}}/s.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
request_slowlog_timeout = "500ms"
slowlog = "{{DIR}}/slow.log"

[http]
listen = "127.0.0.1:0"
default_pool = "s"
`)
	code, _ := httpGet(t, &http.Client{Timeout: 10 * time.Second}, m.frontURL()+"/sleep?ms=1500&who=me")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	m.waitFor(`(request: "GET /sleep?ms=1500&who=me") executing too slow`, 2*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, "slow.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, re := range []string{`\n\[\d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d\]  \[pool s\] pid \d+\n`, `main\.newMux\.func\d+`, `request = GET /sleep\?ms=1500&who=me`} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("slowlog does not match %s:\n%s", re, log)
		}
	}
}

// requirePHPCGI returns php-cgi's path, skipping the test where it is not
// installed (make deps installs it; CI fails instead of skipping).
func requirePHPCGI(t *testing.T) string {
	t.Helper()
	const phpCGI = "/usr/bin/php-cgi8.2"
	if _, err := os.Stat(phpCGI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("php-cgi is not installed (make deps installs it)")
		}
		t.Skip("php-cgi8.2 not installed; run make deps")
	}
	return phpCGI
}

// TestPHPOndemand: php-cgi in an ondemand pool: 0 processes, the first
// request through nginx starts one, idle timeout brings the pool back to 0.
func TestPHPOndemand(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	testOndemand(t, `command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"`, "/i.php", "php pid=")
}

// TestMaxRequestsRecycle: a Go worker leaves after pm_max_requests, as a
// planned exit (code 0, notice), and its replacement serves; no request fails.
func TestMaxRequestsRecycle(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.r]
listen = "{{DIR}}/r.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
pm_max_requests = 3

[http]
listen = "127.0.0.1:0"
default_pool = "r"
`)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	pids := map[int]int{}
	for i := range 7 {
		code, body := httpGet(t, c, base+"/")
		if code != 200 {
			t.Fatalf("request %d: %d %q", i+1, code, body)
		}
		pids[pidOf(t, body)]++
	}
	if len(pids) != 3 {
		t.Errorf("7 requests with pm_max_requests = 3 served by %d workers, want 3: %v", len(pids), pids)
	}
	l := m.waitFor("exited with code 0 after", 5*time.Second)
	if l.Level != "info" {
		t.Errorf("planned exit logged at %q, want info (notice)", l.Level)
	}
}

// TestWorkerMaxMemory: an idle worker above worker_max_memory is recycled
// and replaced.
func TestWorkerMaxMemory(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.m]
listen = "{{DIR}}/m.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
worker_max_memory = "1MiB"
`)
	first := m.waitFor("] child ", 5*time.Second).Pid
	m.waitFor(fmt.Sprintf("child %d uses", first), 5*time.Second)
	m.waitFor("more than worker_max_memory (1 MiB): recycling", time.Second)
	m.waitUntil("a replacement", 5*time.Second, func([]logLine) bool { return len(m.workerPids()) >= 2 })
}

// TestEmergencyRestart: workers dying by SIGSEGV trip
// emergency_restart_threshold.
func TestEmergencyRestart(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
emergency_restart_threshold = 2
emergency_restart_interval = "1m"

[pool.segv]
listen = "{{DIR}}/s.sock"
command = ["/bin/sh", "-c", "kill -SEGV $$"]
pm = "static"
pm_max_children = 1
`)
	m.waitFor("exited on signal 11 (SIGSEGV)", 5*time.Second)
	m.waitFor("failed processes threshold (2 in 1m0s) is reached", 5*time.Second)
}

// TestListenQueue: connections waiting on a Unix socket are counted (php-fpm
// always shows 0 there).
func TestListenQueue(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 1))
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { httpGet(t, c, base+"/sleep?ms=1500") })
	}
	m.waitFor("listen queue 3 of 511", 5*time.Second)
	wg.Wait()
}
