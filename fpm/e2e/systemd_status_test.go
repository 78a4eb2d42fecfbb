package e2e

// End-to-end tests of the systemd heartbeat: php-fpm's STATUS= line on a
// tick and WATCHDOG=1 under WatchdogSec, received on a notify socket as
// systemd's.

import (
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket listens on a unixgram socket in dir as systemd's
// NOTIFY_SOCKET and returns its path and next, which waits for the next
// notification that contains want (failing after d) and returns it; any
// other notification fails the test, except heartbeats (the STATUS= line
// alone, or with WATCHDOG=1) when skipBeats is set.
func notifySocket(t *testing.T, dir string) (string, func(want string, skipBeats bool, d time.Duration) string) {
	t.Helper()
	ns := filepath.Join(dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := nc.ReadFromUnix(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string, skipBeats bool, d time.Duration) string {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
				if !skipBeats || !statusLine.MatchString(strings.TrimPrefix(m, "WATCHDOG=1\n")) {
					t.Fatalf("notification %q, want one with %q", m, want)
				}
			case <-deadline:
				t.Fatalf("no notification with %q within %s", want, d)
			}
		}
	}
	return ns, next
}

// statusLine is php-fpm's heartbeat text (sapi/fpm/fpm/fpm_systemd.c).
var statusLine = regexp.MustCompile(`^STATUS=Processes active: (\d+), idle: (\d+), Requests: (\d+), slow: (\d+), Traffic: ([0-9.e+-]+)req/sec$`)

// TestSystemdStatusHeartbeat: after READY=1 the master sends php-fpm's
// STATUS= line every systemd_interval, with the pools' counts summed
// (two pools, three workers, requests counted), and no WATCHDOG=1 when
// systemd set no watchdog.
func TestSystemdStatusHeartbeat(t *testing.T) {
	dir := shortTempDir(t)
	ns, next := notifySocket(t, dir)
	t.Setenv("NOTIFY_SOCKET", ns)
	m := startMaster(t, dir, `
systemd_interval = "100ms"
[pool.a]
listen = "{{DIR}}/a.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
[pool.b]
listen = "{{DIR}}/b.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	next("READY=1", false, 15*time.Second)
	m.waitFor("systemd monitor interval set to 100ms", 5*time.Second)
	for range 4 {
		fcgiGet(t, filepath.Join(dir, "a.sock"), "/")
	}
	fcgiGet(t, filepath.Join(dir, "b.sock"), "/")
	// The counts reach the heartbeat within a maintenance tick or two.
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := next("STATUS=Processes active:", false, 5*time.Second)
		if strings.Contains(msg, "WATCHDOG=1") || strings.Contains(msg, "READY=1") {
			t.Fatalf("heartbeat %q: no watchdog was asked for, and READY=1 is not repeated", msg)
		}
		g := statusLine.FindStringSubmatch(msg)
		if g == nil {
			t.Fatalf("heartbeat %q is not php-fpm's STATUS line", msg)
		}
		active, _ := strconv.Atoi(g[1])
		idle, _ := strconv.Atoi(g[2])
		requests, _ := strconv.Atoi(g[3])
		if active+idle == 3 && requests >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last heartbeat %q; want 3 processes and at least 5 requests", msg)
		}
	}
}

// TestSystemdWatchdog: with WATCHDOG_USEC (systemd's WatchdogSec=) the
// heartbeat runs at half of it, overriding systemd_interval, and carries
// WATCHDOG=1; systemd_interval = 0 without a watchdog sends none.
func TestSystemdWatchdog(t *testing.T) {
	dir := shortTempDir(t)
	ns, next := notifySocket(t, dir)
	t.Setenv("NOTIFY_SOCKET", ns)
	t.Setenv("WATCHDOG_USEC", "2200000")
	const pool = `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`
	m := startMaster(t, dir, "systemd_interval = 60\n"+pool)
	next("READY=1", false, 15*time.Second)
	m.waitFor("systemd watchdog configured to 1.1sec", 5*time.Second)
	for range 2 {
		msg := next("WATCHDOG=1\nSTATUS=Processes active: 0, idle: 1, Requests: 0, slow: 0, Traffic: 0req/sec", false, 5*time.Second)
		if !statusLine.MatchString(strings.TrimPrefix(msg, "WATCHDOG=1\n")) {
			t.Fatalf("watchdog heartbeat %q", msg)
		}
	}

	dir2 := shortTempDir(t)
	ns2, next2 := notifySocket(t, dir2)
	t.Setenv("NOTIFY_SOCKET", ns2)
	t.Setenv("WATCHDOG_USEC", "")
	m2 := startMaster(t, dir2, "systemd_interval = 0\n"+pool)
	next2("READY=1", false, 15*time.Second)
	m2.waitFor("systemd monitor disabled", 5*time.Second)
}
