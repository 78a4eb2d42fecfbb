package e2e

// Socket hardening, end to end: permissions from the socket's first moment,
// POSIX ACLs, listen_allowed_clients on TCP, a socket already in use, and
// `gofpm check`'s bind and --as checks.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"golang.org/x/sys/unix"
)

// fcgiDo sends one GET to a pool socket ("unix" path or "tcp" address),
// from localIP when set, and returns the status and body.
func fcgiDo(network, address, localIP string, params map[string]string) (int, string, error) {
	c := &fcgi.Client{Dial: func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		if localIP != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
		}
		return d.DialContext(ctx, network, address)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SCRIPT_NAME": "/", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "x"}
	for k, v := range params {
		p[k] = v
	}
	resp, err := c.Do(ctx, &fcgi.Request{Params: p})
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestSocketPermsFirstMoment: an inotify watch on the socket directory,
// set before the master starts, sees the socket appear under its final
// name with the configured mode and owner already, and nothing else but a
// private 0700 directory ever appears there.
func TestSocketPermsFirstMoment(t *testing.T) {
	dir := shortTempDir(t)
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	wantUID, wantGID := os.Geteuid(), os.Getegid()
	owner := ""
	if os.Geteuid() == 0 {
		wantUID, wantGID = 65534, 65534
		owner = "listen_owner = \"nobody\"\nlisten_group = \"nogroup\"\n"
	}
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, run, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}

	m := launchMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/run/www.sock"
listen_mode = "0660"
`+owner+`command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	var first unix.Stat_t
	var others []string
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(15 * time.Second)
	found := false
	for !found {
		if time.Now().After(deadline) {
			t.Fatalf("no event for run/www.sock; other entries: %v\nlog:\n%s", others, m.logText())
		}
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		n, err := unix.Read(ino, buf)
		if err == unix.EAGAIN {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			mask := binary.NativeEndian.Uint32(b[4:8])
			l := int(binary.NativeEndian.Uint32(b[12:16]))
			name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+l], "\x00"))
			b = b[unix.SizeofInotifyEvent+l:]
			p := filepath.Join(run, name)
			if name == "www.sock" {
				// lstat at once: the first moment anyone can see it.
				if err := unix.Lstat(p, &first); err != nil {
					t.Fatalf("lstat %s on its event: %v", p, err)
				}
				found = true
				break
			}
			var st unix.Stat_t
			if mask&unix.IN_ISDIR == 0 {
				others = append(others, fmt.Sprintf("%s (not a directory)", name))
			} else if unix.Lstat(p, &st) == nil && (st.Mode&0o7777 != 0o700 || int(st.Uid) != os.Geteuid()) {
				others = append(others, fmt.Sprintf("%s directory mode %04o uid %d", name, st.Mode&0o7777, st.Uid))
			}
		}
	}
	if first.Mode&unix.S_IFMT != unix.S_IFSOCK || first.Mode&0o7777 != 0o660 {
		t.Errorf("socket at its first moment: mode %o, want socket 0660", first.Mode)
	}
	if int(first.Uid) != wantUID || int(first.Gid) != wantGID {
		t.Errorf("socket at its first moment: owner %d:%d, want %d:%d", first.Uid, first.Gid, wantUID, wantGID)
	}
	if len(others) > 0 {
		t.Errorf("entries other than a private 0700 directory appeared next to the socket: %v", others)
	}
	m.waitFor("ready to handle connections", 15*time.Second)
	if code, body, err := fcgiDo("unix", filepath.Join(run, "www.sock"), "", nil); err != nil || code != 200 {
		t.Fatalf("request: %d %q %v", code, body, err)
	}
	// The private directory is gone once the socket is in place.
	ents, _ := os.ReadDir(run)
	if len(ents) != 1 || ents[0].Name() != "www.sock" {
		t.Errorf("run/ holds %v, want only www.sock", ents)
	}
}

// TestSocketACL: listen_acl_users = ["nobody"] on a 0600 root socket: a
// client running as nobody connects and gets 200 from the ping page, one
// running as daemon gets "permission denied"; gofpm check --as agrees.
func TestSocketACL(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (clients run as other users)")
	}
	daemon, err := user.Lookup("daemon")
	if err != nil {
		t.Skip("no daemon user")
	}
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "www.sock")
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0600"
listen_acl_users = ["nobody"]
command = ["{{HELLO}}"]
ping_path = "/ping"
pm = "static"
pm_max_children = 1
`)
	_ = m
	// The ACL as the kernel keeps it: a named entry for 65534 with rw.
	b := make([]byte, 256)
	n, err := unix.Lgetxattr(sock, "system.posix_acl_access", b)
	if err != nil {
		t.Fatalf("reading the socket's ACL: %v", err)
	}
	var named bool
	for e := b[4:n]; len(e) >= 8; e = e[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		if tag == 2 && id == 65534 && perm == 6 {
			named = true
		}
	}
	if !named {
		t.Fatalf("socket ACL %x has no user:65534:rw- entry", b[:n])
	}

	ping := func(uid, gid uint32) (string, error) {
		cmd := exec.Command(bins.gofpm, "ping", "--socket", sock, "--path", "/ping", "--timeout", "10s")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := ping(65534, 65534); err != nil || strings.TrimSpace(out) != "pong" {
		t.Fatalf("as nobody: %v %q, want pong", err, out)
	}
	duid, _ := strconv.Atoi(daemon.Uid)
	dgid, _ := strconv.Atoi(daemon.Gid)
	if out, err := ping(uint32(duid), uint32(dgid)); err == nil || !strings.Contains(out, "permission denied") {
		t.Fatalf("as daemon: %v %q, want permission denied", err, out)
	}
	if out, err := exec.Command("getfacl", "-n", sock).Output(); err == nil {
		if !strings.Contains(string(out), "user:65534:rw-") {
			t.Errorf("getfacl: %s", out)
		}
	}

	out, err := exec.Command(bins.gofpm, "check", "-R", "-c", m.conf, "--as", "nobody", "--as", "daemon").CombinedOutput()
	if err == nil ||
		!strings.Contains(string(out), fmt.Sprintf(`pool "www": user nobody can connect to %s`, sock)) ||
		!strings.Contains(string(out), `fix: listen_acl_users = ["nobody", "daemon"]`) {
		t.Fatalf("check --as nobody --as daemon: %v\n%s", err, out)
	}
}

// TestAllowedClientsTCP: pools on 127.0.0.1 with listen_allowed_clients =
// ["127.0.0.1"], a Go worker and php-cgi: a client bound to 127.0.0.2 gets
// no FastCGI answer at all (the kernel drops its SYN), one bound to
// 127.0.0.1 gets 200.
func TestAllowedClientsTCP(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	script := filepath.Join(dir, "i.php")
	os.WriteFile(script, []byte(`<?php echo "php ok";`), 0o644)
	goPort, phpPort := freePort(t), freePort(t)
	m := startMaster(t, dir, fmt.Sprintf(`
[pool.go]
listen = "127.0.0.1:%d"
listen_allowed_clients = ["127.0.0.1"]
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1

[pool.php]
listen = "127.0.0.1:%d"
listen_allowed_clients = ["127.0.0.1", "::1"]
command = ["%s"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
`, goPort, phpPort, phpCGI))
	m.waitUntil("2 children", 10*time.Second, func([]logLine) bool { return len(m.children()) == 2 })

	php := map[string]string{"SCRIPT_FILENAME": script, "SCRIPT_NAME": "/i.php", "REQUEST_URI": "/i.php"}
	for _, c := range []struct {
		name   string
		port   int
		params map[string]string
		body   string
	}{{"go", goPort, nil, "hello from gofpm"}, {"php", phpPort, php, "php ok"}} {
		addr := "127.0.0.1:" + strconv.Itoa(c.port)
		code, body, err := fcgiDo("tcp", addr, "127.0.0.2", c.params)
		// Dropped in the kernel: the connection never completes (the dial
		// times out); a worker that closed it would give ErrIncomplete.
		var ne net.Error
		if err == nil || !(errors.As(err, &ne) && ne.Timeout() || errors.Is(err, fcgi.ErrIncomplete)) {
			t.Errorf("pool %s from 127.0.0.2: %d %q %v, want no answer", c.name, code, body, err)
		}
		code, body, err = fcgiDo("tcp", addr, "127.0.0.1", c.params)
		if err != nil || code != 200 || !strings.Contains(body, c.body) {
			t.Errorf("pool %s from 127.0.0.1: %d %q %v, want 200 with %q", c.name, code, body, err, c.body)
		}
	}
	// The workers have the list too: Go workers check it after accept,
	// libfcgi programs read FCGI_WEB_SERVER_ADDRS.
	for _, pid := range m.children() {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if !bytes.Contains(env, []byte("GOFPM_ALLOWED_CLIENTS=127.0.0.1")) || !bytes.Contains(env, []byte("FCGI_WEB_SERVER_ADDRS=127.0.0.1")) {
			t.Errorf("worker %d environment lacks the allowed clients: %q", pid, env)
		}
	}
}

// TestSocketInUse: a second master on a live master's socket refuses to
// start, naming the first one's pid, and the first keeps serving; after
// kill -9 of the first (and its workers) the socket file is stale and a
// new master replaces it.
func TestSocketInUse(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "www.sock")
	conf := `
[pool.www]
listen = "` + sock + `"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`
	subdir := func(name string) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := startMaster(t, subdir("a"), conf)
	apid := a.cmd.Process.Pid
	want := fmt.Sprintf(`listen %q: in use by pid %d (gofpm)`, sock, apid)

	b := launchMaster(t, subdir("b"), conf)
	if code := b.waitExit(15 * time.Second); code == 0 {
		t.Fatalf("second master exited 0\n%s", b.logText())
	}
	if b.count(want) == 0 {
		t.Fatalf("second master's log lacks %q:\n%s", want, b.logText())
	}
	if code, body, err := fcgiDo("unix", sock, "", nil); err != nil || code != 200 {
		t.Fatalf("first master after the second failed: %d %q %v", code, body, err)
	}
	// gofpm check sees it too, without disturbing it.
	out, err := exec.Command(bins.gofpm, "check", "-R", "-c", b.conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("check with the socket in use: %v\n%s", err, out)
	}
	if code, _, err := fcgiDo("unix", sock, "", nil); err != nil || code != 200 {
		t.Fatalf("first master after check: %d %v", code, err)
	}

	// kill -9: the master and its workers; the socket file stays.
	workers := a.children()
	syscall.Kill(apid, syscall.SIGKILL)
	for _, pid := range workers {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	a.waitExit(10 * time.Second)
	eventually(t, 10*time.Second, "the workers to die", func() bool {
		for _, pid := range workers {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket file after kill -9: %v %v", fi, err)
	}
	out, err = exec.Command(bins.gofpm, "check", "-R", "-c", b.conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stale socket file") {
		t.Fatalf("check with a stale socket: %v\n%s", err, out)
	}
	startMaster(t, subdir("c"), conf)
	if code, body, err := fcgiDo("unix", sock, "", nil); err != nil || code != 200 {
		t.Fatalf("new master on the stale socket: %d %q %v", code, body, err)
	}
}

// TestTCPInUse: a TCP address another process listens on is refused with
// that process's pid.
func TestTCPInUse(t *testing.T) {
	dir := shortTempDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := launchMaster(t, dir, `
[pool.www]
listen = "`+ln.Addr().String()+`"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	if code := m.waitExit(15 * time.Second); code == 0 {
		t.Fatal("master exited 0")
	}
	want := fmt.Sprintf(`listen %q: in use by pid %d (`, ln.Addr().String(), os.Getpid())
	if m.count(want) == 0 {
		t.Fatalf("log lacks %q:\n%s", want, m.logText())
	}
}

// TestCheckAs: gofpm check --as nobody fails with the fix on a 0660 root
// socket and passes with 0666; a directory nobody cannot search is named
// with its chmod.
func TestCheckAs(t *testing.T) {
	dir := shortTempDir(t)
	conf := func(mode string) string {
		return writeConfig(t, dir, `
[pool.www]
listen = "{{DIR}}/run/www.sock"
listen_mode = "`+mode+`"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	}
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(path string) (string, int) {
		out, err := exec.Command(bins.gofpm, "check", "-R", "-c", path, "--as", "nobody").CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	sock := filepath.Join(run, "www.sock")
	out, code := check(conf("0660"))
	if code != 1 || !strings.Contains(out, fmt.Sprintf(`pool "www": user nobody cannot connect to %s: mode 0660 owner `, sock)) ||
		!strings.Contains(out, `; fix: listen_group = "nogroup"`) {
		t.Fatalf("0660: exit %d\n%s", code, out)
	}
	out, code = check(conf("0666"))
	if code != 0 || !strings.Contains(out, fmt.Sprintf(`pool "www": user nobody can connect to %s`, sock)) {
		t.Fatalf("0666: exit %d\n%s", code, out)
	}
	if os.Geteuid() != 65534 {
		os.Chmod(run, 0o700)
		out, code = check(conf("0666"))
		if code != 1 || !strings.Contains(out, fmt.Sprintf("directory %s is 0700: chmod o+x %s", run, run)) {
			t.Fatalf("0700 directory: exit %d\n%s", code, out)
		}
	}
	os.RemoveAll(run)
	out, code = check(conf("0666"))
	if code != 1 || !strings.Contains(out, fmt.Sprintf("directory %s does not exist", run)) {
		t.Fatalf("missing directory: exit %d\n%s", code, out)
	}
}

// TestSocketACLUnsupported: ACLs asked for on a filesystem without them
// (ramfs) fail the start with the filesystem named; check says the same.
func TestSocketACLUnsupported(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a ramfs")
	}
	dir := shortTempDir(t)
	ram := filepath.Join(dir, "ram")
	os.Mkdir(ram, 0o755)
	if err := unix.Mount("none", ram, "ramfs", 0, ""); err != nil {
		t.Skipf("mounting a ramfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(ram, unix.MNT_DETACH) })
	m := launchMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/ram/www.sock"
listen_acl_users = ["nobody"]
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	if code := m.waitExit(15 * time.Second); code == 0 {
		t.Fatal("master started with ACLs on a ramfs")
	}
	want := fmt.Sprintf("the filesystem of %s (ramfs mounted on %s) does not support POSIX ACLs", ram, ram)
	if m.count(want) == 0 {
		t.Fatalf("log lacks %q:\n%s", want, m.logText())
	}
	if ents, _ := os.ReadDir(ram); len(ents) != 0 {
		t.Errorf("left behind in %s: %v", ram, ents)
	}
	out, err := exec.Command(bins.gofpm, "check", "-R", "-c", m.conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "(ramfs mounted on "+ram+") does not support POSIX ACLs") {
		t.Fatalf("check: %v\n%s", err, out)
	}
}
