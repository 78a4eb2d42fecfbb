package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDispatchGracefulStopQueued: SIGQUIT to a master in the dispatch mode
// with one request in flight on its only worker and four queued in the
// master: the worker answers all five with 200 before it is stopped, and
// the master exits 0.
func TestDispatchGracefulStopQueued(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\npm_max_queue = 8\n")
	eventually(t, 10*time.Second, "the worker started", func() bool { return len(m.workerPids()) == 1 })
	worker := m.workerPids()[0]
	running := getAsync(ng.client, "http://localhost/slow.php?s=1.5")
	eventually(t, 5*time.Second, "the slow request running", func() bool {
		return num(nginxStatus(t, ng, ""), "active processes") == 1
	})
	var queued []<-chan answer
	for range 4 {
		queued = append(queued, getAsync(ng.client, "http://localhost/slow.php?s=0.05"))
	}
	eventually(t, 5*time.Second, "four requests queued in the master", func() bool {
		return num(nginxStatus(t, ng, ""), "listen queue") == 4
	})
	if err := m.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	want := "slept pid=" + strconv.Itoa(worker)
	for i, ch := range append([]<-chan answer{running}, queued...) {
		if a := <-ch; a.err != nil || a.code != 200 || strings.TrimSpace(a.body) != want {
			t.Errorf("request %d: %d %q %v, want 200 %q", i, a.code, a.body, a.err, want)
		}
	}
	if code := m.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("master exit code %d after SIGQUIT, want 0", code)
	}
	if alive(worker) {
		t.Errorf("worker %d still alive", worker)
	}
}
