package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotifyAndReloadCLI: with NOTIFY_SOCKET set (as systemd does
// for Type=notify) the master says READY=1 with its MAINPID, RELOADING=1 on
// a reload, READY=1 with the new MAINPID from the new master, STOPPING=1 at
// the end; gofpm reload refuses an invalid config with exit 1 and waits for
// the handover of a valid one.
func TestSystemdNotifyAndReloadCLI(t *testing.T) {
	dir := shortTempDir(t)
	ns, notified := notifySocket(t, dir)
	// The heartbeat (every 10s by default) may come between the others.
	next := func(want string) string { t.Helper(); return notified(want, true, 20*time.Second) }
	text := `
pid = "{{DIR}}/gofpm.pid"
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
`
	conf := writeConfig(t, dir, text)
	h := startHanded(t, dir, bins.gofpm, conf, "NOTIFY_SOCKET="+ns)
	cmd, pidOfFile := h.cmd, h.current
	next(fmt.Sprintf("READY=1\nMAINPID=%d", cmd.Process.Pid))

	// gofpm reload with an invalid config: exit 1, nothing sent.
	writeConfig(t, dir, strings.Replace(text, "pm_max_children = 2", "pm_max_children = -1", 1))
	out, err := exec.Command(bins.gofpm, "reload", "-c", conf, "-R").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "pm_max_children must be a positive value") {
		t.Fatalf("reload of an invalid config: %v %q", err, out)
	}
	// A valid one: exit 0 once the new master took over.
	writeConfig(t, dir, text)
	out, err = exec.Command(bins.gofpm, "reload", "-c", conf, "-R").CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("reloaded: master %d handed over to", cmd.Process.Pid)) {
		t.Fatalf("reload: %v %q", err, out)
	}
	next("RELOADING=1")
	newPid := pidOfFile()
	next(fmt.Sprintf("READY=1\nMAINPID=%d", newPid))
	syscall.Kill(newPid, syscall.SIGTERM)
	next("STOPPING=1")
}

// TestSocketActivation: sockets passed by systemd (LISTEN_FDS, named by
// LISTEN_FDNAMES) are used for the pool of that name, and left in place at
// stop.
func TestSocketActivation(t *testing.T) {
	dir := shortTempDir(t)
	sockPath := filepath.Join(dir, "activated.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	conf := writeConfig(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	// systemd sets LISTEN_PID to the service's pid after fork; a shell
	// that execs gofpm does the same here.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=www exec "$0" run -c "$1" -R --log-format json`, bins.gofpm, conf)
	cmd.ExtraFiles = []*os.File{f}
	logPath := filepath.Join(dir, "master.log")
	logf, _ := os.Create(logPath)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	})
	eventually(t, 10*time.Second, "the inherited socket in use", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "using inherited socket") && strings.Contains(string(b), "] child ")
	})
	// The pool answers on systemd's socket (its own listen path is unused).
	hdr, body := splitCGI(t, cgiFCGI(t, sockPath, "/", ""))
	if !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("on the activated socket: %q %q", hdr, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "www.sock")); !os.IsNotExist(err) {
		t.Errorf("the pool made its own socket too: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	<-done
	if _, err := os.Stat(sockPath); err != nil {
		t.Errorf("systemd's socket file removed at stop: %v", err)
	}
}
