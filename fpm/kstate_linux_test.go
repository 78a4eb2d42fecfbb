//go:build linux

package fpm

// Tests of the kernel-derived worker state with real sockets and real
// processes (php-cgi8.2, sleep). Every process started here is killed by pid
// in t.Cleanup.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

const ktPHPCGI = "/usr/bin/php-cgi8.2"

// ktListenUnix creates a Unix listener the way listenUnix does: bind under a
// temporary name, listen, rename into place; blocking, CLOEXEC.
func ktListenUnix(t testing.TB, backlog int) (*os.File, string) {
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

// ktListenTCP creates a TCP listener on 127.0.0.1:0 the way openPoolSocket does.
// The address returned is the one to dial.
func ktListenTCP(t testing.TB, backlog int) (*os.File, string) {
	return ktListenTCPOn(t, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, "127.0.0.1", backlog)
}

// ktListenTCPAny listens on 0.0.0.0:0.
func ktListenTCPAny(t testing.TB, backlog int) (*os.File, string) {
	return ktListenTCPOn(t, &unix.SockaddrInet4{}, "127.0.0.1", backlog)
}

// ktListenTCP6 listens on [::1]:0.
func ktListenTCP6(t testing.TB, backlog int) (*os.File, string) {
	return ktListenTCPOn(t, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, "::1", backlog)
}

// ktListenTCP6Any listens on [::]:0 (dual stack); clients dial 127.0.0.1, so
// the accepted sockets are AF_INET6 with v4-mapped addresses.
func ktListenTCP6Any(t testing.TB, backlog int) (*os.File, string) {
	return ktListenTCPOn(t, &unix.SockaddrInet6{}, "127.0.0.1", backlog)
}

func ktListenTCPOn(t testing.TB, sa unix.Sockaddr, dialHost string, backlog int) (*os.File, string) {
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

type ktListener struct {
	network string
	listen  func(testing.TB, int) (*os.File, string)
}

var ktListeners = []ktListener{{"unix", ktListenUnix}, {"tcp", ktListenTCP}}

// ktAllListeners adds the wildcard and IPv6 variants.
var ktAllListeners = append(ktListeners[:len(ktListeners):len(ktListeners)],
	ktListener{"tcp-any", ktListenTCPAny}, ktListener{"tcp6", ktListenTCP6}, ktListener{"tcp6-any", ktListenTCP6Any})

func (l ktListener) net() string {
	if l.network == "unix" {
		return "unix"
	}
	return "tcp"
}

func ktProbe(t testing.TB, f *os.File) *kernelProbe {
	t.Helper()
	k, err := newKernelProbe(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// ktEventually polls cond every few milliseconds until it holds or d passes:
// the kernel offers no event for these state changes.
func ktEventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
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

func ktDial(t testing.TB, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ktInode returns the socket inode of a connection.
func ktInode(t testing.TB, c net.Conn) uint64 {
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

// ktBlocking checks that the listener is still in blocking mode.
func ktBlocking(t testing.TB, f *os.File) {
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

func TestKernelListenQueue(t *testing.T) {
	for _, l := range ktAllListeners {
		t.Run(l.network, func(t *testing.T) {
			const backlog = 7
			f, addr := l.listen(t, backlog)
			k := ktProbe(t, f)
			if q, b, err := k.listenQueue(); err != nil || q != 0 || b != backlog {
				t.Fatalf("empty queue: listenQueue = %d, %d, %v; want 0, %d", q, b, err, backlog)
			}
			var clients []uint64
			for range 3 {
				clients = append(clients, ktInode(t, ktDial(t, l.net(), addr)))
			}
			// TCP: the handshake's last ACK may still be on its way.
			ktEventually(t, 5*time.Second, "listen queue 3", func() (bool, string) {
				q, b, err := k.listenQueue()
				return err == nil && q == 3 && b == backlog, fmt.Sprint(q, b, err)
			})
			if l.network == "unix" {
				icons, err := k.unixPending()
				if err != nil {
					t.Fatal(err)
				}
				if len(icons) != 3 {
					t.Fatalf("UNIX_DIAG_ICONS = %v; want the 3 clients %v", icons, clients)
				}
				for _, c := range clients {
					if !bytes.Contains(ktU32s(icons), ktU32s([]uint32{uint32(c)})) {
						t.Fatalf("client %d not among the pending %v", c, icons)
					}
				}
			}
			ktBlocking(t, f)
		})
	}
}

func ktU32s(v []uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func TestKernelReadable(t *testing.T) {
	for _, l := range ktListeners {
		t.Run(l.network, func(t *testing.T) {
			f, addr := l.listen(t, 16)
			k := ktProbe(t, f)
			if k.readable() {
				t.Fatal("readable() with an empty queue")
			}
			c := ktDial(t, l.network, addr)
			ktEventually(t, 5*time.Second, "readable() with one pending connection", func() (bool, string) {
				return k.readable(), "false"
			})
			// Asking again changes nothing: the master never accepted it.
			for range 3 {
				if !k.readable() {
					t.Fatal("readable() turned false without an accept")
				}
			}
			if q, _, err := k.listenQueue(); err != nil || q != 1 {
				t.Fatalf("listenQueue = %d, %v after readable(); want 1", q, err)
			}
			if l.network == "unix" {
				icons, err := k.unixPending()
				if err != nil || len(icons) != 1 || uint64(icons[0]) != ktInode(t, c) {
					t.Fatalf("pending = %v, %v; want the client %d", icons, err, ktInode(t, c))
				}
			}
			ktBlocking(t, f)
			// A worker can still take it.
			rc, _ := f.SyscallConn()
			var nfd int
			var aerr error
			rc.Control(func(fd uintptr) { nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC) })
			if aerr != nil {
				t.Fatal(aerr)
			}
			unix.Close(nfd)
			if k.readable() {
				t.Fatal("readable() after the connection was accepted")
			}
		})
	}
}

func TestKernelProbeRejectsNonListener(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	if k, err := newKernelProbe(a); err == nil {
		k.Close()
		t.Fatal("newKernelProbe accepted a connected socket")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if k, err := newKernelProbe(f); err == nil {
		k.Close()
		t.Fatal("newKernelProbe accepted /dev/null")
	}
}

// ktNeed skips when a program is missing, unless CI is set.
func ktNeed(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed", path)
	}
}

// ktStart starts a worker with the listener as fd 0 and kills it by pid in
// t.Cleanup.
func ktStart(t testing.TB, sock *os.File, env []string, extra []*os.File, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = sock
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

func ktStartPHP(t testing.TB, sock *os.File) int {
	return ktStart(t, sock, []string{"PHP_FCGI_MAX_REQUESTS=0"}, nil, ktPHPCGI)
}

// FastCGI client: just enough to send one request and read its answer.
const (
	ktFCGIBegin  = 1
	ktFCGIEnd    = 3
	ktFCGIParams = 4
	ktFCGIStdin  = 5
	ktFCGIStdout = 6
)

func ktRecord(typ uint8, id uint16, body []byte) []byte {
	h := []byte{1, typ, byte(id >> 8), byte(id), byte(len(body) >> 8), byte(len(body)), 0, 0}
	return append(h, body...)
}

func ktParams(kv ...string) []byte {
	var b []byte
	size := func(n int) {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		size(len(kv[i]))
		size(len(kv[i+1]))
		b = append(b, kv[i]...)
		b = append(b, kv[i+1]...)
	}
	return b
}

// ktFCGI sends a GET for script on c and returns the body of the answer.
func ktFCGI(c net.Conn, id uint16, keep bool, script string) (string, error) {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	flags := byte(0)
	if keep {
		flags = 1
	}
	var req []byte
	req = append(req, ktRecord(ktFCGIBegin, id, []byte{0, 1, flags, 0, 0, 0, 0, 0})...)
	req = append(req, ktRecord(ktFCGIParams, id, ktParams(
		"SCRIPT_FILENAME", script, "SCRIPT_NAME", "/"+filepath.Base(script),
		"REQUEST_METHOD", "GET", "QUERY_STRING", "", "SERVER_PROTOCOL", "HTTP/1.1",
		"GATEWAY_INTERFACE", "CGI/1.1", "REDIRECT_STATUS", "200"))...)
	req = append(req, ktRecord(ktFCGIParams, id, nil)...)
	req = append(req, ktRecord(ktFCGIStdin, id, nil)...)
	if _, err := c.Write(req); err != nil {
		return "", err
	}
	var out []byte
	h := make([]byte, 8)
	for {
		if _, err := io.ReadFull(c, h); err != nil {
			return string(out), err
		}
		body := make([]byte, int(h[4])<<8|int(h[5])+int(h[6]))
		if _, err := io.ReadFull(c, body); err != nil {
			return string(out), err
		}
		body = body[:int(h[4])<<8|int(h[5])]
		switch h[1] {
		case ktFCGIStdout:
			out = append(out, body...)
		case ktFCGIEnd:
			if i := bytes.Index(out, []byte("\r\n\r\n")); i >= 0 {
				out = out[i+4:]
			}
			return string(out), nil
		}
	}
}

func ktScript(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sleep.php")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ktDescribe(st map[int]kworker) string {
	s := ""
	for pid, w := range st {
		s += fmt.Sprintf("[%d busy=%v conns=%d wait=%v] ", pid, w.busy, w.conns, w.wait)
	}
	return s
}

// ktAllAccepting waits until every pid is idle and blocked in accept.
func ktAllAccepting(t *testing.T, k *kernelProbe, pids []int) {
	t.Helper()
	ktEventually(t, 10*time.Second, "all workers idle in accept", func() (bool, string) {
		st, err := k.snapshot(pids)
		if err != nil {
			return false, err.Error()
		}
		for _, pid := range pids {
			if w := st[pid]; w.busy || w.wait != kwaitAccept {
				return false, ktDescribe(st)
			}
		}
		bw, err := k.busyWorkers(pids)
		if err != nil || len(bw) != len(pids) {
			return false, fmt.Sprint(bw, err)
		}
		for _, b := range bw {
			if b {
				return false, fmt.Sprint(bw)
			}
		}
		return true, ""
	})
}

func TestKernelPHPWorkers(t *testing.T) {
	ktNeed(t, ktPHPCGI)
	for _, l := range ktListeners {
		t.Run(l.network, func(t *testing.T) {
			f, addr := l.listen(t, 64)
			k := ktProbe(t, f)
			pids := []int{ktStartPHP(t, f), ktStartPHP(t, f)}
			ktAllAccepting(t, k, pids)
			script := ktScript(t, `<?php usleep(800000); echo "ok";`)

			type answer struct {
				body string
				err  error
			}
			done := make(chan answer, 1)
			c := ktDial(t, l.network, addr)
			go func() {
				body, err := ktFCGI(c, 1, false, script)
				done <- answer{body, err}
			}()
			var busy int
			ktEventually(t, 5*time.Second, "exactly one busy worker while the script sleeps", func() (bool, string) {
				bw, err := k.busyWorkers(pids)
				if err != nil {
					return false, err.Error()
				}
				n := 0
				for pid, b := range bw {
					if b {
						n, busy = n+1, pid
					}
				}
				return n == 1, fmt.Sprint(bw)
			})
			select {
			case a := <-done:
				t.Fatalf("the answer (%q, %v) came before the busy worker could be checked", a.body, a.err)
			default:
			}
			w, err := k.worker(busy)
			if err != nil || !w.busy || w.conns != 1 || w.conn == 0 {
				t.Fatalf("worker(%d) = %+v, %v; want busy with one connection", busy, w, err)
			}
			for _, pid := range pids {
				b, err := k.workerBusy(pid)
				if err != nil || b != (pid == busy) {
					t.Fatalf("workerBusy(%d) = %v, %v", pid, b, err)
				}
			}
			a := <-done
			if a.err != nil || a.body != "ok" {
				t.Fatalf("answer %q, %v; want ok", a.body, a.err)
			}
			// Without FCGI_KEEP_CONN php-cgi shuts its side down and reads until
			// the web server closes (busy, kwaitConn, until then), as nginx does
			// right after END_REQUEST.
			c.Close()
			ktAllAccepting(t, k, pids)

			// Keep-alive: after the answer the worker keeps the connection
			// and waits in read() for the next request. It counts busy, in
			// kwaitConn, and the clock has no request running.
			fast := ktScript(t, `<?php echo "ok";`)
			kc := ktDial(t, l.network, addr)
			if body, err := ktFCGI(kc, 1, true, fast); err != nil || body != "ok" {
				t.Fatalf("keep-alive answer %q, %v", body, err)
			}
			var clock kworkerClock
			var kept int
			ktEventually(t, 5*time.Second, "one worker waiting on its kept connection", func() (bool, string) {
				st, err := k.snapshot(pids)
				if err != nil {
					return false, err.Error()
				}
				clock.observe(time.Now(), st)
				n := 0
				for pid, w := range st {
					if w.busy && w.wait == kwaitConn {
						n, kept = n+1, pid
					} else if w.busy || w.wait != kwaitAccept {
						return false, ktDescribe(st)
					}
				}
				return n == 1, ktDescribe(st)
			})
			if kt, ok := clock.get(kept); !ok || !kt.busy || !kt.request.IsZero() || kt.wait != kwaitConn {
				t.Fatalf("clock for the kept worker: %+v %v; want busy, no request running", kt, ok)
			}
			// A second request on the same connection is served by the same worker.
			if body, err := ktFCGI(kc, 2, true, fast); err != nil || body != "ok" {
				t.Fatalf("second keep-alive answer %q, %v", body, err)
			}
			kc.Close()
			ktAllAccepting(t, k, pids)
			ktBlocking(t, f)
		})
	}
}

// ktAccept accepts one connection from f, as a worker would.
func ktAccept(t testing.TB, f *os.File) *os.File {
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

// TestKernelHeldConnections gives sleep processes (the listener on fd 0)
// various sockets: only accepted connections of this listener make a worker
// busy.
func TestKernelHeldConnections(t *testing.T) {
	for _, l := range ktAllListeners {
		t.Run(l.network, func(t *testing.T) {
			dial := func(addr string) net.Conn { return ktDial(t, l.net(), addr) }
			f, addr := l.listen(t, 16)
			other, otherAddr := l.listen(t, 16) // another pool
			k := ktProbe(t, f)
			sleep := func(extra ...*os.File) int {
				return ktStart(t, f, nil, extra, "sleep", "3600")
			}
			// a: two accepted connections of this pool.
			dial(addr)
			dial(addr)
			a := sleep(ktAccept(t, f), ktAccept(t, f))
			// b: the client end of a connection to this pool (still queued)
			// and an unrelated socket pair.
			client := dial(addr)
			cf, err := client.(interface{ File() (*os.File, error) }).File()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cf.Close() })
			sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			spf := os.NewFile(uintptr(sp[0]), "pair")
			t.Cleanup(func() { spf.Close(); unix.Close(sp[1]) })
			b := sleep(cf, spf)
			// c: nothing but the listener.
			c := sleep()
			// d: an accepted connection of the other pool.
			dial(otherAddr)
			d := sleep(ktAccept(t, other))
			pids := []int{a, b, c, d}
			for round := range 2 { // the second round checks the cached fd
				st, err := k.snapshot(pids)
				if err != nil {
					t.Fatal(err)
				}
				if w := st[a]; !w.busy || w.conns != 2 || w.conn == 0 {
					t.Fatalf("round %d: a = %+v; want busy with 2 connections", round, w)
				}
				for _, pid := range pids[1:] {
					if w := st[pid]; w.busy || w.conns != 0 {
						t.Fatalf("round %d: worker %d = %+v; want idle (%s)", round, pid, w, ktDescribe(st))
					}
				}
			}
			syscall.Kill(a, syscall.SIGKILL)
			ktEventually(t, 5*time.Second, "the killed worker's connections released", func() (bool, string) {
				bw, err := k.busyWorkers(pids)
				return err == nil && !bw[a], fmt.Sprint(bw, err)
			})
			ktBlocking(t, f)
		})
	}
}

// TestKernelMultipartDump makes the dump span many netlink messages and
// receives: 1500 accepted connections held by the test process, the last
// one also by a worker.
func TestKernelMultipartDump(t *testing.T) {
	for _, l := range ktListeners {
		t.Run(l.network, func(t *testing.T) {
			const n = 1500
			f, addr := l.listen(t, 4096)
			k := ktProbe(t, f)
			var last *os.File
			for range n {
				ktDial(t, l.net(), addr)
				last = ktAccept(t, f)
			}
			idle := ktStart(t, f, nil, nil, "sleep", "3600")
			busy := ktStart(t, f, nil, []*os.File{last}, "sleep", "3600")
			conns := map[uint64]bool{}
			k.mu.Lock()
			var err error
			if l.network == "unix" {
				err = k.unixConns(conns)
			} else {
				err = k.tcpConns(conns)
			}
			k.mu.Unlock()
			if err != nil || len(conns) != n {
				t.Fatalf("dump found %d accepted connections, %v; want %d", len(conns), err, n)
			}
			for range 3 {
				bw, err := k.busyWorkers([]int{idle, busy})
				if err != nil || bw[idle] || !bw[busy] {
					t.Fatalf("busyWorkers = %v, %v; want only %d busy", bw, err, busy)
				}
			}
		})
	}
}

// TestKernelListenerClosed: once the pool closes its socket the kernel
// answers the lookup with an NLMSG_ERROR (ENOENT), which is reported, and
// the probe keeps working for what does not need the listener.
func TestKernelListenerClosed(t *testing.T) {
	for _, l := range ktListeners {
		t.Run(l.network, func(t *testing.T) {
			f, _ := l.listen(t, 8)
			k := ktProbe(t, f)
			f.Close()
			if q, b, err := k.listenQueue(); err == nil {
				t.Fatalf("listenQueue on a closed listener = %d, %d, nil; want an error", q, b)
			}
			if k.readable() {
				t.Fatal("readable() on a closed listener")
			}
			if bw, err := k.busyWorkers([]int{os.Getpid()}); err != nil || bw[os.Getpid()] {
				t.Fatalf("busyWorkers after the error = %v, %v", bw, err)
			}
			k.Close()
			if _, _, err := k.listenQueue(); !errors.Is(err, errKernelProbeClosed) {
				t.Fatalf("listenQueue after Close: %v", err)
			}
		})
	}
}

func TestKernelWorkerGone(t *testing.T) {
	f, _ := ktListenUnix(t, 8)
	k := ktProbe(t, f)
	cmd := exec.Command("sleep", "60")
	cmd.Stdin = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL); cmd.Wait() })
	if b, err := k.workerBusy(pid); err != nil || b {
		t.Fatalf("workerBusy(sleep) = %v, %v; want idle", b, err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	cmd.Wait()
	if _, err := k.workerBusy(pid); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("workerBusy(reaped pid) error = %v; want ErrNotExist", err)
	}
	bw, err := k.busyWorkers([]int{pid})
	if err != nil || bw[pid] {
		t.Fatalf("busyWorkers(reaped pid) = %v, %v; want idle, no error", bw, err)
	}
	if len(k.procs) != 0 {
		t.Fatalf("%d /proc handles still cached for a reaped pid", len(k.procs))
	}
}

func TestKernelClock(t *testing.T) {
	var c kworkerClock
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c.observe(at(0), map[int]kworker{1: {wait: kwaitAccept}})
	if w, _ := c.get(1); w.busy || !w.since.Equal(at(0)) || !w.after.IsZero() {
		t.Fatalf("first sight: %+v", w)
	}
	c.observe(at(250), map[int]kworker{1: {busy: true, conn: 7, conns: 1, wait: kwaitOther}})
	w, _ := c.get(1)
	if !w.busy || !w.since.Equal(at(250)) || !w.after.Equal(at(0)) || !w.request.Equal(at(250)) {
		t.Fatalf("busy: %+v", w)
	}
	// Same connection, keep-alive wait, then the next request.
	c.observe(at(500), map[int]kworker{1: {busy: true, conn: 7, conns: 1, wait: kwaitConn}})
	if w, _ := c.get(1); !w.since.Equal(at(250)) || !w.request.IsZero() {
		t.Fatalf("kept: %+v", w)
	}
	c.observe(at(750), map[int]kworker{1: {busy: true, conn: 7, conns: 1, wait: kwaitRunning}})
	if w, _ := c.get(1); !w.since.Equal(at(250)) || !w.request.Equal(at(750)) {
		t.Fatalf("next request: %+v", w)
	}
	// A new connection between two polls restarts the clock.
	c.observe(at(1000), map[int]kworker{1: {busy: true, conn: 9, conns: 1, wait: kwaitRunning}})
	if w, _ := c.get(1); !w.since.Equal(at(1000)) || !w.after.Equal(at(750)) || !w.request.Equal(at(1000)) {
		t.Fatalf("new connection: %+v", w)
	}
	c.observe(at(1250), map[int]kworker{})
	if _, ok := c.get(1); ok {
		t.Fatal("a worker missing from the snapshot is still tracked")
	}
}

// BenchmarkKernelBusyWorkers measures one busyWorkers call for a pool of n
// workers on a Unix socket:
//   - php-cgi: idle, blocked in accept: one pread of /proc/PID/syscall each,
//     no netlink dump;
//   - sleep: idle but never in accept (sleep holds the socket as fd 0 and no
//     connection): one pread each and one sock_diag dump that finds no
//     accepted connection, so no fd is listed;
//   - busy-sleep: sleep holding an accepted connection as fd 3, the worst
//     case: one pread each, one dump, and /proc/PID/fd listed for every
//     worker.
func BenchmarkKernelBusyWorkers(b *testing.B) {
	for _, kind := range []string{"php-cgi", "sleep", "busy-sleep"} {
		for _, n := range []int{8, 64} {
			b.Run(fmt.Sprintf("%s-%d", kind, n), func(b *testing.B) {
				if kind == "php-cgi" {
					ktNeed(b, ktPHPCGI)
				}
				f, path := ktListenUnix(b, 128)
				k := ktProbe(b, f)
				pids := make([]int, n)
				for i := range pids {
					switch kind {
					case "php-cgi":
						pids[i] = ktStartPHP(b, f)
					case "sleep":
						pids[i] = ktStart(b, f, nil, nil, "sleep", "3600")
					case "busy-sleep":
						ktDial(b, "unix", path)
						rc, _ := f.SyscallConn()
						var nfd int
						var aerr error
						rc.Control(func(fd uintptr) { nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC) })
						if aerr != nil {
							b.Fatal(aerr)
						}
						conn := os.NewFile(uintptr(nfd), "conn")
						pids[i] = ktStart(b, f, nil, []*os.File{conn}, "sleep", "3600")
						conn.Close()
					}
				}
				want, busy := kwaitOther, kind == "busy-sleep"
				if kind == "php-cgi" {
					want = kwaitAccept
				}
				ktEventually(b, 30*time.Second, "workers settled", func() (bool, string) {
					st, err := k.snapshot(pids)
					if err != nil {
						return false, err.Error()
					}
					for _, w := range st {
						if w.busy != busy || w.wait != want {
							return false, ktDescribe(st)
						}
					}
					return len(st) == n, ktDescribe(st)
				})
				b.ResetTimer()
				for b.Loop() {
					bw, err := k.busyWorkers(pids)
					if err != nil || len(bw) != n {
						b.Fatal(bw, err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/worker")
			})
		}
	}
}
