package e2e

// Tests of deploy/logrotate/gofpm: logrotate accepts it, and its
// postrotate command makes a real master reopen its logs.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// readLogrotate returns deploy/logrotate/gofpm with the test's paths: the
// log folder, the pid file and a systemd unit name no host runs.
func readLogrotate(t *testing.T, logDir, pidFile string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/logrotate/gofpm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("/var/log/gofpm", logDir, "/run/gofpm/gofpm.pid", pidFile,
		"gofpm.service", fmt.Sprintf("gofpm-e2e-%d.service", os.Getpid())).Replace(string(b))
}

// TestLogrotateConfig: `logrotate -d` (debug: nothing is done) reads the
// file without an error and would rotate the pools' logs.
func TestLogrotateConfig(t *testing.T) {
	lr, err := exec.LookPath("logrotate")
	if err != nil {
		t.Skip("logrotate is not installed (Debian package logrotate)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "www.access.log"), []byte("x\n"), 0o644)
	conf := filepath.Join(dir, "gofpm.logrotate")
	os.WriteFile(conf, []byte(readLogrotate(t, dir, filepath.Join(dir, "gofpm.pid"))), 0o644)
	out, err := exec.Command(lr, "-d", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") || !strings.Contains(string(out), filepath.Join(dir, "www.access.log")) {
		t.Fatalf("logrotate -d: %v\n%s", err, out)
	}
}

// TestLogrotatePostrotate: after the logs are moved away (what logrotate
// does before postrotate), the file's postrotate script, run by sh on a
// host where gofpm is not a systemd service, signals the master through the
// pid file: the error log is reopened at its path, every worker is
// replaced, and the next access line goes to the new access log.
func TestLogrotatePostrotate(t *testing.T) {
	dir := shortTempDir(t)
	errLog, accessLog, pidFile := filepath.Join(dir, "error.log"), filepath.Join(dir, "www.access.log"), filepath.Join(dir, "gofpm.pid")
	conf := writeConfig(t, dir, `
pid = "{{DIR}}/gofpm.pid"
error_log = "{{DIR}}/error.log"
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
access_log = "{{DIR}}/www.access.log"
pm = "static"
pm_max_children = 1
`)
	h := startHanded(t, dir, bins.gofpm, conf)
	fileHas := func(path, s string) bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), s)
	}
	lines := func(path string) int {
		b, _ := os.ReadFile(path)
		return strings.Count(string(b), "\n")
	}
	eventually(t, 15*time.Second, "the master ready", func() bool {
		return fileHas(errLog, "ready to handle connections") && h.current() == h.cmd.Process.Pid
	})
	eventually(t, 10*time.Second, "a worker", func() bool { return len(childrenOf(h.cmd.Process.Pid)) == 1 })
	before := childrenOf(h.cmd.Process.Pid)
	sock := filepath.Join(dir, "www.sock")
	fcgiGet(t, sock, "/")
	eventually(t, 5*time.Second, "an access line", func() bool { return lines(accessLog) == 1 })

	for _, p := range []string{errLog, accessLog} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	script := readLogrotate(t, dir, pidFile)
	_, body, ok := strings.Cut(script, "\tpostrotate\n")
	body, _, ok2 := strings.Cut(body, "\tendscript\n")
	if !ok || !ok2 {
		t.Fatalf("no postrotate ... endscript in deploy/logrotate/gofpm:\n%s", script)
	}
	if out, err := exec.Command("/bin/sh", "-c", body).CombinedOutput(); err != nil {
		t.Fatalf("postrotate: %v\n%s", err, out)
	}
	eventually(t, 5*time.Second, "the error log reopened", func() bool { return fileHas(errLog, "error log file re-opened") })
	eventually(t, 10*time.Second, "the worker replaced", func() bool {
		now := childrenOf(h.cmd.Process.Pid)
		return len(now) == 1 && !slices.Contains(before, now[0])
	})
	fcgiGet(t, sock, "/")
	eventually(t, 5*time.Second, "an access line in the new file", func() bool { return lines(accessLog) == 1 })
	if n := lines(accessLog + ".1"); n != 1 {
		t.Errorf("the rotated access log has %d lines, want the 1 from before", n)
	}
	if fileHas(errLog+".1", "error log file re-opened") {
		t.Errorf("the reopen line went to the rotated file")
	}
}
