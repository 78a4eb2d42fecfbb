package kstate

// Tests of the kernel-derived worker state with real sockets and real
// processes (php-cgi8.2, sleep). Every process started here is killed by pid
// in t.Cleanup.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/fpm/internal/socktest"
)

// ktProbe makes a probe of f, closed in t.Cleanup.
func ktProbe(t testing.TB, f *os.File) *Probe {
	t.Helper()
	k, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestKernelReadable(t *testing.T) {
	for _, l := range socktest.Listeners {
		t.Run(l.Network, func(t *testing.T) {
			f, addr := l.Listen(t, 16)
			k := ktProbe(t, f)
			if k.Readable() {
				t.Fatal("readable() with an empty queue")
			}
			c := socktest.Dial(t, l.Network, addr)
			socktest.Eventually(t, 5*time.Second, "readable() with one pending connection", func() (bool, string) {
				return k.Readable(), "false"
			})
			// Asking again changes nothing: the master never accepted it.
			for range 3 {
				if !k.Readable() {
					t.Fatal("readable() turned false without an accept")
				}
			}
			if q, _, err := k.ListenQueue(); err != nil || q != 1 {
				t.Fatalf("listenQueue = %d, %v after readable(); want 1", q, err)
			}
			if l.Network == "unix" {
				icons, err := ktPending(k)
				if err != nil || len(icons) != 1 || uint64(icons[0]) != socktest.Inode(t, c) {
					t.Fatalf("pending = %v, %v; want the client %d", icons, err, socktest.Inode(t, c))
				}
			}
			socktest.Blocking(t, f)
			// A worker can still take it.
			socktest.Accept(t, f).Close()
			if k.Readable() {
				t.Fatal("readable() after the connection was accepted")
			}
		})
	}
}

func TestKernelProbeRejectsNonListener(t *testing.T) {
	a, _ := socktest.SocketPair(t)
	if k, err := New(a); err == nil {
		k.Close()
		t.Fatal("New accepted a connected socket")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if k, err := New(f); err == nil {
		k.Close()
		t.Fatal("New accepted /dev/null")
	}
}

// FastCGI client: just enough to send one request and read its answer.

// ktFCGI sends a GET for script on c and returns the body of the answer.
func ktFCGI(c net.Conn, id uint16, keep bool, script string) (string, error) {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	req := fcgi.AppendBeginRequest(nil, id, fcgi.RoleResponder, keep)
	var params []byte
	for _, kv := range [][2]string{
		{"SCRIPT_FILENAME", script}, {"SCRIPT_NAME", "/" + filepath.Base(script)},
		{"REQUEST_METHOD", "GET"}, {"QUERY_STRING", ""}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"GATEWAY_INTERFACE", "CGI/1.1"}, {"REDIRECT_STATUS", "200"},
	} {
		params = fcgi.AppendPair(params, kv[0], kv[1])
	}
	req = fcgi.AppendRecords(req, fcgi.TypeParams, id, params)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, id, nil)
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, id, nil)
	if _, err := c.Write(req); err != nil {
		return "", err
	}
	var out []byte
	for {
		rec, err := fcgi.ReadRecord(c, nil)
		if err != nil {
			return string(out), err
		}
		switch rec.Type {
		case fcgi.TypeStdout:
			out = append(out, rec.Content...)
		case fcgi.TypeEndRequest:
			if i := bytes.Index(out, []byte("\r\n\r\n")); i >= 0 {
				out = out[i+4:]
			}
			return string(out), nil
		}
	}
}

// ktPending lists the clients waiting in the probe's Unix listener's queue.
func ktPending(k *Probe) ([]uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.diag.Pending(&k.l)
}

// ktScript writes a PHP script and returns its path.
func ktScript(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sleep.php")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ktDescribe(st map[int]Worker) string {
	s := ""
	for pid, w := range st {
		s += fmt.Sprintf("[%d busy=%v conns=%d wait=%v] ", pid, w.Busy, w.Conns, w.Wait)
	}
	return s
}

// ktAllAccepting waits until every pid is idle and blocked in accept.
func ktAllAccepting(t *testing.T, k *Probe, pids []int) {
	t.Helper()
	socktest.Eventually(t, 10*time.Second, "all workers idle in accept", func() (bool, string) {
		st, err := k.Snapshot(pids)
		if err != nil {
			return false, err.Error()
		}
		for _, pid := range pids {
			if w := st[pid]; w.Busy || w.Wait != WaitAccept {
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
	socktest.Need(t, socktest.PHPCGI)
	for _, l := range socktest.Listeners {
		t.Run(l.Network, func(t *testing.T) {
			f, addr := l.Listen(t, 64)
			k := ktProbe(t, f)
			pids := []int{socktest.StartPHP(t, f), socktest.StartPHP(t, f)}
			ktAllAccepting(t, k, pids)
			script := ktScript(t, `<?php usleep(800000); echo "ok";`)

			type answer struct {
				body string
				err  error
			}
			done := make(chan answer, 1)
			c := socktest.Dial(t, l.Network, addr)
			go func() {
				body, err := ktFCGI(c, 1, false, script)
				done <- answer{body, err}
			}()
			var busy int
			socktest.Eventually(t, 5*time.Second, "exactly one busy worker while the script sleeps", func() (bool, string) {
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
			if err != nil || !w.Busy || w.Conns != 1 || w.Conn == 0 {
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
			// the web server closes (busy, WaitConn, until then), as nginx does
			// right after END_REQUEST.
			c.Close()
			ktAllAccepting(t, k, pids)

			// Keep-alive: after the answer the worker keeps the connection
			// and waits in read() for the next request. It counts busy, in
			// WaitConn, and the clock has no request running.
			fast := ktScript(t, `<?php echo "ok";`)
			kc := socktest.Dial(t, l.Network, addr)
			if body, err := ktFCGI(kc, 1, true, fast); err != nil || body != "ok" {
				t.Fatalf("keep-alive answer %q, %v", body, err)
			}
			var clock Clock
			var kept int
			socktest.Eventually(t, 5*time.Second, "one worker waiting on its kept connection", func() (bool, string) {
				st, err := k.Snapshot(pids)
				if err != nil {
					return false, err.Error()
				}
				clock.Observe(time.Now(), st)
				n := 0
				for pid, w := range st {
					if w.Busy && w.Wait == WaitConn {
						n, kept = n+1, pid
					} else if w.Busy || w.Wait != WaitAccept {
						return false, ktDescribe(st)
					}
				}
				return n == 1, ktDescribe(st)
			})
			if kt, ok := clock.Get(kept); !ok || !kt.Busy || !kt.Request.IsZero() || kt.Wait != WaitConn {
				t.Fatalf("clock for the kept worker: %+v %v; want busy, no request running", kt, ok)
			}
			// A second request on the same connection is served by the same worker.
			if body, err := ktFCGI(kc, 2, true, fast); err != nil || body != "ok" {
				t.Fatalf("second keep-alive answer %q, %v", body, err)
			}
			kc.Close()
			ktAllAccepting(t, k, pids)
			socktest.Blocking(t, f)
		})
	}
}

// TestKernelHeldConnections gives sleep processes (the listener on fd 0)
// various sockets: only accepted connections of this listener make a worker
// busy.
func TestKernelHeldConnections(t *testing.T) {
	for _, l := range socktest.AllListeners {
		t.Run(l.Network, func(t *testing.T) {
			dial := func(addr string) net.Conn { return socktest.Dial(t, l.Net(), addr) }
			f, addr := l.Listen(t, 16)
			other, otherAddr := l.Listen(t, 16) // another pool
			k := ktProbe(t, f)
			sleep := func(extra ...*os.File) int {
				return socktest.Start(t, f, nil, extra, "sleep", "3600")
			}
			// a: two accepted connections of this pool.
			dial(addr)
			dial(addr)
			a := sleep(socktest.Accept(t, f), socktest.Accept(t, f))
			// b: the client end of a connection to this pool (still queued)
			// and an unrelated socket pair.
			client := dial(addr)
			cf, err := client.(interface{ File() (*os.File, error) }).File()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cf.Close() })
			spf, _ := socktest.SocketPair(t)
			b := sleep(cf, spf)
			// c: nothing but the listener.
			c := sleep()
			// d: an accepted connection of the other pool.
			dial(otherAddr)
			d := sleep(socktest.Accept(t, other))
			pids := []int{a, b, c, d}
			for round := range 2 { // the second round checks the cached fd
				st, err := k.Snapshot(pids)
				if err != nil {
					t.Fatal(err)
				}
				if w := st[a]; !w.Busy || w.Conns != 2 || w.Conn == 0 {
					t.Fatalf("round %d: a = %+v; want busy with 2 connections", round, w)
				}
				for _, pid := range pids[1:] {
					if w := st[pid]; w.Busy || w.Conns != 0 {
						t.Fatalf("round %d: worker %d = %+v; want idle (%s)", round, pid, w, ktDescribe(st))
					}
				}
			}
			syscall.Kill(a, syscall.SIGKILL)
			socktest.Eventually(t, 5*time.Second, "the killed worker's connections released", func() (bool, string) {
				bw, err := k.busyWorkers(pids)
				return err == nil && !bw[a], fmt.Sprint(bw, err)
			})
			socktest.Blocking(t, f)
		})
	}
}

// TestKernelMultipartDump makes the dump span many netlink messages and
// receives: 1500 accepted connections held by the test process, the last
// one also by a worker.
func TestKernelMultipartDump(t *testing.T) {
	for _, l := range socktest.Listeners {
		t.Run(l.Network, func(t *testing.T) {
			const n = 1500
			f, addr := l.Listen(t, 4096)
			k := ktProbe(t, f)
			var last *os.File
			for range n {
				socktest.Dial(t, l.Net(), addr)
				last = socktest.Accept(t, f)
			}
			idle := socktest.Start(t, f, nil, nil, "sleep", "3600")
			busy := socktest.Start(t, f, nil, []*os.File{last}, "sleep", "3600")
			conns := map[uint64]bool{}
			k.mu.Lock()
			err := k.diag.Accepted(&k.l, conns)
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
	for _, l := range socktest.Listeners {
		t.Run(l.Network, func(t *testing.T) {
			f, _ := l.Listen(t, 8)
			k := ktProbe(t, f)
			f.Close()
			if q, b, err := k.ListenQueue(); err == nil {
				t.Fatalf("listenQueue on a closed listener = %d, %d, nil; want an error", q, b)
			}
			if k.Readable() {
				t.Fatal("readable() on a closed listener")
			}
			if bw, err := k.busyWorkers([]int{os.Getpid()}); err != nil || bw[os.Getpid()] {
				t.Fatalf("busyWorkers after the error = %v, %v", bw, err)
			}
			k.Close()
			if _, _, err := k.ListenQueue(); !errors.Is(err, ErrClosed) {
				t.Fatalf("listenQueue after Close: %v", err)
			}
		})
	}
}

func TestKernelWorkerGone(t *testing.T) {
	f, _ := socktest.ListenUnix(t, 8)
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
					socktest.Need(b, socktest.PHPCGI)
				}
				f, path := socktest.ListenUnix(b, 128)
				k := ktProbe(b, f)
				pids := make([]int, n)
				for i := range pids {
					switch kind {
					case "php-cgi":
						pids[i] = socktest.StartPHP(b, f)
					case "sleep":
						pids[i] = socktest.Start(b, f, nil, nil, "sleep", "3600")
					case "busy-sleep":
						socktest.Dial(b, "unix", path)
						conn := socktest.Accept(b, f)
						pids[i] = socktest.Start(b, f, nil, []*os.File{conn}, "sleep", "3600")
						conn.Close()
					}
				}
				want, busy := WaitOther, kind == "busy-sleep"
				if kind == "php-cgi" {
					want = WaitAccept
				}
				socktest.Eventually(b, 30*time.Second, "workers settled", func() (bool, string) {
					st, err := k.Snapshot(pids)
					if err != nil {
						return false, err.Error()
					}
					for _, w := range st {
						if w.Busy != busy || w.Wait != want {
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
