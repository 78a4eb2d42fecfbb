package socktest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// PHPCGI is the php-cgi the worker tests run.
const PHPCGI = "/usr/bin/php-cgi8.2"

// ListenUnix creates a Unix listener the way the pool's socket is made:
// bind under a temporary name, listen, rename into place; blocking,
// CLOEXEC. It returns the listener and its path.
func ListenUnix(t testing.TB, backlog int) (*os.File, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "kst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "pool.sock")
	tmp := filepath.Join(dir, ".pool.sock."+strconv.Itoa(os.Getpid())+".tmp")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: tmp}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	t.Cleanup(func() { f.Close() })
	return f, path
}

// ListenTCP creates a TCP listener on 127.0.0.1:0 the way the pool's
// socket is made. The address returned is the one to dial.
func ListenTCP(t testing.TB, backlog int) (*os.File, string) {
	return listenTCPOn(t, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, "127.0.0.1", backlog)
}

// ListenTCPAny listens on 0.0.0.0:0.
func ListenTCPAny(t testing.TB, backlog int) (*os.File, string) {
	return listenTCPOn(t, &unix.SockaddrInet4{}, "127.0.0.1", backlog)
}

// ListenTCP6 listens on [::1]:0.
func ListenTCP6(t testing.TB, backlog int) (*os.File, string) {
	return listenTCPOn(t, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, "::1", backlog)
}

// ListenTCP6Any listens on [::]:0 (dual stack); clients dial 127.0.0.1, so
// the accepted sockets are AF_INET6 with v4-mapped addresses.
func ListenTCP6Any(t testing.TB, backlog int) (*os.File, string) {
	return listenTCPOn(t, &unix.SockaddrInet6{}, "127.0.0.1", backlog)
}

func listenTCPOn(t testing.TB, sa unix.Sockaddr, dialHost string, backlog int) (*os.File, string) {
	t.Helper()
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if family == unix.AF_INET6 {
			t.Skipf("no IPv6: %v", err)
		}
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if family == unix.AF_INET6 && (err == unix.EADDRNOTAVAIL || err == unix.EAFNOSUPPORT) {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	port := 0
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		port = b.Port
	case *unix.SockaddrInet6:
		port = b.Port
	}
	addr := net.JoinHostPort(dialHost, strconv.Itoa(port))
	f := os.NewFile(uintptr(fd), addr)
	t.Cleanup(func() { f.Close() })
	return f, addr
}

// Listener is one way to listen.
type Listener struct {
	Network string // unix, tcp, tcp-any, tcp6, tcp6-any
	Listen  func(testing.TB, int) (*os.File, string)
}

// Listeners are a Unix and a TCP listener.
var Listeners = []Listener{{"unix", ListenUnix}, {"tcp", ListenTCP}}

// AllListeners adds the wildcard and IPv6 variants.
var AllListeners = append(Listeners[:len(Listeners):len(Listeners)],
	Listener{"tcp-any", ListenTCPAny}, Listener{"tcp6", ListenTCP6}, Listener{"tcp6-any", ListenTCP6Any})

// Net is the network to dial the listener on.
func (l Listener) Net() string {
	if l.Network == "unix" {
		return "unix"
	}
	return "tcp"
}

// Eventually polls cond every few milliseconds until it holds or d passes:
// the kernel offers no event for these state changes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s; last: %s", d, what, detail)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Dial connects to addr, closing the connection in t.Cleanup.
func Dial(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Inode returns the socket inode of a connection.
func Inode(t testing.TB, c net.Conn) uint64 {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return uint64(st.Ino)
}

// FileInode returns the inode of f (a socket's inode for a socket).
func FileInode(t testing.TB, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// SocketPair returns both ends of a connected Unix socket pair, closed in
// t.Cleanup.
func SocketPair(t testing.TB) (a, b *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Blocking checks that the listener is still in blocking mode.
func Blocking(t testing.TB, f *os.File) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nb bool
	var nerr error
	rc.Control(func(fd uintptr) {
		var fl int
		fl, nerr = unix.FcntlInt(fd, unix.F_GETFL, 0)
		nb = fl&unix.O_NONBLOCK != 0
	})
	if nerr != nil || nb {
		t.Fatalf("listener non-blocking=%v (%v); the probe must not change its mode", nb, nerr)
	}
}

// Accept accepts one connection from f, as a worker would.
func Accept(t testing.TB, f *os.File) *os.File {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nfd int
	var aerr error
	rc.Control(func(fd uintptr) { nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC) })
	if aerr != nil {
		t.Fatal(aerr)
	}
	c := os.NewFile(uintptr(nfd), "accepted")
	t.Cleanup(func() { c.Close() })
	return c
}

// Need skips when a program is missing, unless CI is set.
func Need(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed", path)
	}
}

// Start starts a worker with sock as fd 0 (none when nil) and extra from
// fd 3, and kills it by pid in t.Cleanup.
func Start(t testing.TB, sock *os.File, env []string, extra []*os.File, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if sock != nil {
		cmd.Stdin = sock
	}
	cmd.Env = env
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return pid
}

// StartPHP starts php-cgi on sock.
func StartPHP(t testing.TB, sock *os.File) int {
	return Start(t, sock, []string{"PHP_FCGI_MAX_REQUESTS=0"}, nil, PHPCGI)
}
