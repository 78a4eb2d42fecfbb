package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReopenLogs: SIGUSR1 reopens the error log (after logrotate moved it)
// and recycles every worker gracefully, as php-fpm does.
func TestReopenLogs(t *testing.T) {
	dir := shortTempDir(t)
	logPath := filepath.Join(dir, "error.log")
	conf := writeConfig(t, dir, `
error_log = "{{DIR}}/error.log"

[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
`)
	cmd := exec.Command(bins.gofpm, "run", "-c", conf, "-R", "--log-format", "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	fileHas := func(path, s string) bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), s)
	}
	eventually(t, 10*time.Second, "workers started", func() bool { return len(childrenOf(cmd.Process.Pid)) == 2 })
	before := childrenOf(cmd.Process.Pid)
	if !fileHas(logPath, "ready to handle connections") {
		t.Fatalf("error log file lacks the start lines")
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, "a new error log", func() bool { return fileHas(logPath, "error log file re-opened") })
	eventually(t, 10*time.Second, "every worker replaced", func() bool {
		now := childrenOf(cmd.Process.Pid)
		if len(now) != 2 {
			return false
		}
		for _, pid := range now {
			if slices.Contains(before, pid) {
				return false
			}
		}
		return true
	})
	if fileHas(logPath+".1", "error log file re-opened") {
		t.Errorf("the reopen line went to the old file")
	}
}
