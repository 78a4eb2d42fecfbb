//go:build linux

package fpm

// In-process tests of the master's controls: a Master runs in the test
// process on a real pool (sleep(1) workers, which never accept) and is
// driven with Reload, Reopen and Stop, as main drives it from signals.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// notifyLog collects log lines and wakes waiters on each (also the
// pool loop tests' log).
type notifyLog struct {
	mu    sync.Mutex
	lines []string
	wake  chan struct{}
}

func newNotifyLog() *notifyLog { return &notifyLog{wake: make(chan struct{})} }

func (l *notifyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	close(l.wake)
	l.wake = make(chan struct{})
	return len(p), nil
}

// find returns the first line with s, and a channel closed on the next
// line.
func (l *notifyLog) find(s string) (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return line, nil
		}
	}
	return "", l.wake
}

func (l *notifyLog) has(s string) bool { line, _ := l.find(s); return line != "" }

// waitFor waits until a line with s is logged and returns it.
func (l *notifyLog) waitFor(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		line, next := l.find(s)
		if line != "" {
			return line
		}
		select {
		case <-next:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no line with %q within %s in:\n%s", s, d, strings.Join(l.lines, ""))
		}
	}
}

// runMaster starts a master in-process on one static pool of n sleep(1)
// workers; extra is added to the pool's section. Run's error comes on
// the channel returned.
func runMaster(t *testing.T, n int, extra string, opt Options) (*Master, *notifyLog, string, <-chan error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "gofpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	text := "[pool.www]\nlisten = \"" + dir + "/www.sock\"\ncommand = [\"/bin/sleep\", \"600\"]\npm = \"static\"\npm_max_children = " +
		strconv.Itoa(n) + "\n" + strings.ReplaceAll(extra, "{{DIR}}", dir)
	path := filepath.Join(dir, "pool.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	opt.LoadOptions = config.LoadOptions{AllowRoot: true, Euid: os.Geteuid()}
	cfg, err := Load(path, opt.LoadOptions)
	if err != nil {
		t.Fatal(err)
	}
	logs := newNotifyLog()
	m := New(cfg, zerolog.New(logs), opt)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	t.Cleanup(func() {
		m.Stop(false)
		select {
		case <-m.done:
		case <-time.After(20 * time.Second):
			t.Error("the master did not stop")
		}
	})
	logs.waitFor(t, "ready to handle connections", 10*time.Second)
	return m, logs, dir, errc
}

// waitRun waits for Run to return nil.
func waitRun(t *testing.T, errc <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatalf("Run did not return within %s", d)
	}
}

// TestStopDuringReload: a fast stop while a reload waits for its new
// master (here one that never gets ready) does not wait for the reload:
// the reload is given up, its new master killed, and the master stops.
func TestStopDuringReload(t *testing.T) {
	dir0, err := os.MkdirTemp("", "gofpm-successor")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir0) })
	pidFile := filepath.Join(dir0, "successor.pid")
	exe := filepath.Join(dir0, "successor")
	// One write(2) of the pid, no child process (a helper such as mv
	// would outlive the shell when the shell is killed).
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 600\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	m, logs, _, errc := runMaster(t, 1, "", Options{Executable: exe})
	logs.waitFor(t, "child", 10*time.Second)
	m.Signalled("SIGUSR2").Reload()
	logs.waitFor(t, "reloading: starting "+exe, 10*time.Second)
	start := time.Now()
	m.Signalled("SIGTERM").Stop(false)
	waitRun(t, errc, 10*time.Second) // readyTimeout is 60 s
	if d := time.Since(start); d > readyTimeout/2 {
		t.Fatalf("the stop waited %s", d)
	}
	if line := logs.waitFor(t, "Terminating ...", 0); !strings.Contains(line, `"signal":"SIGTERM"`) {
		t.Errorf("the stop line has no signal: %s", line)
	}
	if line := logs.waitFor(t, "Reloading in progress ...", 0); !strings.Contains(line, `"signal":"SIGUSR2"`) {
		t.Errorf("the reload line has no signal: %s", line)
	}
	logs.waitFor(t, "reload failed: the master is stopping", 0)
	logs.waitFor(t, "exiting, bye-bye!", 0)
	if logs.has("is ready; the old workers") {
		t.Error("a successor took over")
	}
	// The new master, if it got as far as its script, was killed (and
	// reaped by the reload's waiter).
	// SIGKILL is delivered when the process next runs, which on a loaded
	// machine may be a moment after kill(2) returned: wait for its exit
	// on a pidfd (readable once the process has exited), with a deadline.
	if b, err := os.ReadFile(pidFile); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 {
			return
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return // gone and reaped already
		}
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 5000); err == nil && n == 0 {
			t.Errorf("the successor %d still runs 5 s after the stop", pid)
		}
	}
}

// TestStopGracefulThenFast: Stop(true) retires the workers gracefully; a
// Stop(false) meanwhile turns it fast.
func TestStopGracefulThenFast(t *testing.T) {
	// The workers' graceful signal is one sleep(1) ignores, so the
	// graceful stop waits (process_control_timeout is 10 s).
	m, logs, _, errc := runMaster(t, 2, "worker_graceful_signal = \"SIGWINCH\"\n", Options{})
	logs.waitFor(t, "child", 10*time.Second)
	m.Stop(true)
	logs.waitFor(t, "Finishing ...", 10*time.Second)
	select {
	case err := <-errc:
		t.Fatalf("Run returned while the workers ignore their graceful signal: %v", err)
	default:
	}
	m.Stop(false)
	waitRun(t, errc, 10*time.Second)
	logs.waitFor(t, "exited on signal 15 (SIGTERM)", 0)
	logs.waitFor(t, "exiting, bye-bye!", 0)
}

// TestReopenInProcess: Reopen opens the pool's log files again (the pool
// installs them in its loop) and recycles the workers.
func TestReopenInProcess(t *testing.T) {
	m, logs, dir, errc := runMaster(t, 1, "access_log = \"{{DIR}}/access.log\"\nslowlog = \"{{DIR}}/slow.log\"\n", Options{})
	logs.waitFor(t, "child", 10*time.Second)
	for _, name := range []string{"access.log", "slow.log"} {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".1")); err != nil {
			t.Fatal(err)
		}
	}
	m.Reopen()
	logs.waitFor(t, "[pool www] slowlog file re-opened", 10*time.Second)
	logs.waitFor(t, "[pool www] access log file re-opened", 10*time.Second)
	logs.waitFor(t, "log files reopened: recycling", 10*time.Second)
	for _, name := range []string{"access.log", "slow.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("not reopened: %v", err)
		}
	}
	m.Stop(false)
	waitRun(t, errc, 10*time.Second)
}
