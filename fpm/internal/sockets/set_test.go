package sockets

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func unixSpec(path string) Spec {
	return Spec{Network: "unix", Address: path, Perms: Perms{Mode: 0o640, UID: -1, GID: -1}}
}

func dial(t *testing.T, network, addr string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	c.Close()
}

// TestSetListenUnix: a new Unix socket has its mode from the start,
// accepts connections, and Close removes its file only with unlink.
func TestSetListenUnix(t *testing.T) {
	for _, unlink := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "www.sock")
		s := New(Probe{})
		f, fd, err := s.Listen(unixSpec(path))
		if err != nil {
			t.Fatal(err)
		}
		if fd != -1 {
			t.Errorf("a new socket says it was inherited as fd %d", fd)
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o640 {
			t.Fatalf("socket file: %v %v", fi, err)
		}
		dial(t, "unix", path)
		s.Close(unlink, func(p string, err error) { t.Errorf("removing %s: %v", p, err) })
		if _, err := f.Stat(); err == nil {
			t.Error("Close left the socket open")
		}
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) != unlink {
			t.Errorf("unlink %v: the socket file is there: %v", unlink, err == nil)
		}
	}
}

// TestSetStaleAndInUse: a stale socket file is replaced; a live listener
// is an error naming its holder, which the probe finds.
func TestSetStaleAndInUse(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	s := New(Probe{})
	defer s.Close(true, nil)
	if _, _, err := s.Listen(unixSpec(stale)); err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	dial(t, "unix", stale)

	live := filepath.Join(dir, "live.sock")
	l, err = net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, _, err = s.Listen(unixSpec(live))
	var iu *InUseError
	if !errors.As(err, &iu) || iu.Holder.Pid != 0 {
		t.Fatalf("live socket: %v", err)
	}
	probe := Probe{
		UnixListener: func(p string) (uint64, bool, error) { return 7, p == live, nil },
		Holders:      func(ino uint64) []int { return []int{4242} },
		Comm:         func(int) string { return "nginx" },
	}
	_, _, err = New(probe).Listen(unixSpec(live))
	if !errors.As(err, &iu) || iu.Holder != (Holder{4242, "nginx"}) || !strings.Contains(err.Error(), "in use by pid 4242 (nginx)") {
		t.Fatalf("live socket with a probe: %v", err)
	}
	notSock := filepath.Join(dir, "file")
	os.WriteFile(notSock, nil, 0o600)
	if _, _, err := s.Listen(unixSpec(notSock)); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("a plain file: %v", err)
	}
}

// TestSetTCPHolder: an address in use names the master among the
// holders the probe reports (its workers share the socket).
func TestSetTCPHolder(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := netip.MustParseAddrPort(l.Addr().String())
	probe := Probe{
		TCPListeners: func(ap netip.AddrPort) ([]uint64, error) {
			if ap != want {
				t.Errorf("asked about %v, want %v", ap, want)
			}
			return []uint64{1, 2}, nil
		},
		Holders: func(ino uint64) []int { return []int{101, 100} },
		PPID: func(pid int) int {
			if pid == 101 {
				return 100
			}
			return 1
		},
		Comm: func(pid int) string { return "gofpm" },
	}
	s := New(probe)
	_, _, err = s.Listen(Spec{Network: "tcp", Address: l.Addr().String()})
	var iu *InUseError
	if !errors.As(err, &iu) || iu.Holder != (Holder{100, "gofpm"}) {
		t.Fatalf("in use: %v", err)
	}
	_, _, err = New(Probe{}).Listen(Spec{Network: "tcp", Address: l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("in use, no probe: %v", err)
	}
}

// handOverTo hands s's sockets to a new set as a new master gets them:
// the files as fds (dup'd here, in the same process), named by the list.
func handOverTo(t *testing.T, s *Set) *Set {
	t.Helper()
	list, files, release, err := s.HandOver(3)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var items []string
	for i, item := range strings.Split(list, ",") {
		fdText, key, _ := strings.Cut(item, "=")
		if fdText != strconv.Itoa(3+i) {
			t.Errorf("entry %d is %q, want fd %d", i, item, 3+i)
		}
		fd, err := unix.Dup(int(files[i].Fd()))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, strconv.Itoa(fd)+"="+key)
	}
	next := New(Probe{})
	if err := next.Inherit(strings.Join(items, ",")); err != nil {
		t.Fatal(err)
	}
	return next
}

// TestSetHandOver: the sockets in use are listed in the order they were
// opened, under their keys, and a set that inherits them hands the same
// sockets out again, by key, without creating any.
func TestSetHandOver(t *testing.T) {
	dir := t.TempDir()
	pool, status := filepath.Join(dir, "www.sock"), filepath.Join(dir, "status.sock")
	old := New(Probe{})
	if _, _, err := old.Listen(unixSpec(pool)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Listener(unixSpec(status)); err != nil {
		t.Fatal(err)
	}
	front, _, err := old.GoListener(Spec{Network: "tcp", Address: "127.0.0.1:0", Key: "http:front"})
	if err != nil {
		t.Fatal(err)
	}
	list, files, release, err := old.HandOver(3)
	if err != nil {
		t.Fatal(err)
	}
	if want := "3=" + pool + ",4=" + status + ",5=http:front"; list != want || len(files) != 3 {
		t.Fatalf("hand-over %q (%d files), want %q", list, len(files), want)
	}
	release()

	next := handOverTo(t, old)
	old.Close(false, nil) // the old master leaves; the sockets live on in next
	if _, err := os.Lstat(pool); err != nil {
		t.Fatalf("the old master removed the socket it handed over: %v", err)
	}
	f, fd, err := next.Listen(unixSpec(pool))
	if err != nil || fd < 3 || fd != int(f.Fd()) {
		t.Fatalf("pool socket: fd %d, %v", fd, err)
	}
	ln, fd, err := next.Listener(unixSpec(status))
	if err != nil || fd < 3 {
		t.Fatalf("status socket: fd %d, %v", fd, err)
	}
	defer ln.Close()
	fl, fd, err := next.GoListener(Spec{Network: "tcp", Address: "127.0.0.1:1", Key: "http:front"})
	if err != nil || fd < 3 || fl.Addr().String() != front.Addr().String() {
		t.Fatalf("front socket: fd %d, %v (%v, was %v)", fd, err, fl.Addr(), front.Addr())
	}
	dial(t, "unix", pool)
	dial(t, "unix", status)
	dial(t, "tcp", front.Addr().String())
	next.Close(true, nil)
	for _, p := range []string{pool, status} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the last master: %v", p, err)
		}
	}
}

// TestSetCloseInherited: inherited sockets nobody took are closed and
// their files removed, unless systemd passed them; a socket file the set
// neither created nor inherited is never removed.
func TestSetCloseInherited(t *testing.T) {
	for _, systemd := range []bool{false, true} {
		dir := t.TempDir()
		kept, dropped, foreign := filepath.Join(dir, "kept.sock"), filepath.Join(dir, "dropped.sock"), filepath.Join(dir, "foreign.sock")
		old := New(Probe{})
		for _, p := range []string{kept, dropped} {
			if _, _, err := old.Listen(unixSpec(p)); err != nil {
				t.Fatal(err)
			}
		}
		fl, err := net.Listen("unix", foreign)
		if err != nil {
			t.Fatal(err)
		}
		next := handOverTo(t, old)
		old.Close(false, nil)
		next.systemd = systemd
		if _, _, err := next.Listen(unixSpec(kept)); err != nil {
			t.Fatal(err)
		}
		next.CloseInherited()
		if _, err := os.Lstat(dropped); errors.Is(err, os.ErrNotExist) == systemd {
			t.Errorf("systemd %v: dropped socket removed: %v", systemd, err == nil)
		}
		next.Close(true, nil)
		if _, err := os.Lstat(kept); errors.Is(err, os.ErrNotExist) == systemd {
			t.Errorf("systemd %v: socket in use removed at exit: %v", systemd, err == nil)
		}
		if _, err := os.Lstat(foreign); err != nil {
			t.Errorf("another process's socket removed: %v", err)
		}
		fl.Close()
	}
}

// TestSetInheritMalformed: a list not as HandOver writes it is refused.
func TestSetInheritMalformed(t *testing.T) {
	for _, list := range []string{"x=/a", "2=/a", "/a"} {
		if err := New(Probe{}).Inherit(list); err == nil {
			t.Errorf("%q accepted", list)
		}
	}
}

// TestSetTakeByName: a socket systemd passed is found by its name before
// its address, and once taken it is gone under both.
func TestSetTakeByName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "www.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	fd, err := unix.Dup(int(lf.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Probe{})
	s.systemd = true
	if err := s.Inherit(strconv.Itoa(fd) + "=name:www"); err != nil {
		t.Fatal(err)
	}
	s.inherited[path] = s.inherited["name:www"] // and by address, as InheritSystemd keys it
	f, got, err := s.Listen(Spec{Network: "unix", Address: "/not/there.sock", Names: []string{"www"}})
	if err != nil || got != fd || f.Fd() != uintptr(fd) {
		t.Fatalf("by name: fd %d (want %d), %v", got, fd, err)
	}
	if len(s.inherited) != 0 {
		t.Errorf("still inherited after the take: %v", s.inherited)
	}
	s.Close(true, nil)
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("systemd's socket file removed: %v", err)
	}
}
