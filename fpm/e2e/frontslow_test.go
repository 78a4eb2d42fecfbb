package e2e

// Slow and greedy clients of the HTTP front (docs/security.md, HTTP
// front): a client that sends its body slowly or never reads its answer
// holds buffers and a connection of the front, never the only worker;
// bodies past their memory share go to unnamed temp files in a private
// folder; body_timeout, send_timeout and max_connections end or queue
// such clients. Also the params limit however the params are split.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// rawConn opens a client connection to the front and sends head.
func rawConn(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// quickGet asserts that GET / is answered 200 within d: the only worker
// is free.
func quickGet(t *testing.T, base, while string, d time.Duration) {
	t.Helper()
	start := time.Now()
	ans := getAsync(httpClient(d), base+"/")
	r := <-ans
	if r.err != nil || r.code != 200 || !strings.HasPrefix(r.body, "hello from gofpm") {
		t.Fatalf("GET / while %s: %d %q %v after %s: the only worker is held", while, r.code, r.body, r.err, time.Since(start).Round(time.Millisecond))
	}
}

// masterTempFiles lists the master's open files in its private temp
// folder (the folder itself and the unnamed files in it).
func masterTempFiles(t *testing.T, pid int) (dir string, files int) {
	t.Helper()
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil || !strings.Contains(target, "gofpm-front-") {
			continue
		}
		if strings.HasSuffix(target, " (deleted)") {
			files++
		} else {
			dir = target
		}
	}
	return dir, files
}

// procField reads a number from a /proc file such as status ("VmRSS:")
// or io ("rchar:").
func procField(t *testing.T, path, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	t.Fatalf("%s: no %s", path, field)
	return 0
}

// TestFrontSlowClients: with pm_max_children = 1, a client that sends its
// body a byte at a time, or that never reads a 32 MiB answer, does not
// hold the worker: a second client is answered at once. The front ends
// them with body_timeout (408) and send_timeout (connection closed), and
// the answer it had buffered in an unnamed file of its private 0700
// folder is gone with the client.
func TestFrontSlowClients(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`body_timeout = "3s"
send_timeout = "2s"
temp_dir = "{{DIR}}"
max_body_bytes = "64MiB"
`)
	base := m.frontURL()
	addr := strings.TrimPrefix(base, "http://")
	quickGet(t, base, "idle", 10*time.Second)

	t.Run("slow body", func(t *testing.T) {
		c := rawConn(t, addr, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
		stop := make(chan struct{})
		defer close(stop)
		go func() { // the slow client: a byte every 200 ms
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}
		}()
		quickGet(t, base, "a client sends its body a byte at a time", 2*time.Second)
		// body_timeout (3s) ends it with 408.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
			t.Fatalf("slow body after body_timeout: %q, want 408", got)
		}
		m.waitFor("request body not received within body_timeout (3s), answered 408", 5*time.Second)
	})

	t.Run("unread answer", func(t *testing.T) {
		c := rawConn(t, addr, "GET /big?mib=32 HTTP/1.1\r\nHost: x\r\n\r\n")
		// The worker sends all 32 MiB although the client reads nothing.
		m.waitFor("sent 32 MiB", 10*time.Second)
		quickGet(t, base, "a client reads nothing of a 32 MiB answer", 2*time.Second)
		folder, files := masterTempFiles(t, m.cmd.Process.Pid)
		if files == 0 || filepath.Dir(folder) != dir {
			t.Fatalf("while the answer waits: temp folder %q with %d unnamed files, want one under %s", folder, files, dir)
		}
		if fi, err := os.Lstat(folder); err != nil || fi.Mode() != os.ModeDir|0o700 {
			t.Fatalf("temp folder %s: %v %v, want a 0700 directory", folder, fi.Mode(), err)
		}
		if ents, _ := os.ReadDir(folder); len(ents) != 0 {
			t.Fatalf("temp folder holds named files: %v", ents)
		}
		// send_timeout (2s) closes the connection; the client then gets
		// what the kernel had, and less than the whole answer.
		eventually(t, 10*time.Second, "the temp file closed after send_timeout", func() bool {
			_, files := masterTempFiles(t, m.cmd.Process.Pid)
			return files == 0
		})
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if n >= 32<<20 || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("after send_timeout the client read %d bytes, %v: want a cut connection", n, err)
		}
	})

	t.Run("fast client", func(t *testing.T) {
		// Through the spool, as fast as the client reads, whole.
		resp, err := httpClient(20 * time.Second).Get(base + "/big?mib=32")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 32<<20 || resp.StatusCode != 200 {
			t.Fatalf("GET /big?mib=32: %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	})

	t.Run("large body", func(t *testing.T) {
		// A body past body_buffer_size goes through a temp file, whole.
		body := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB
		resp, err := httpClient(20*time.Second).Post(base+"/echo", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != body {
			t.Fatalf("POST 16 MiB: %d, %d bytes back, %v", resp.StatusCode, len(b), err)
		}
	})
}

// httpClient is a client with an overall deadline and no kept connections.
func httpClient(d time.Duration) *http.Client {
	return &http.Client{Timeout: d, Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestFrontUnfinishedBodies: 16 clients that each send 7 MiB of a chunked
// body and never finish it do not raise the master's memory by their
// size: past body_buffer_size and buffer_memory the bodies wait in temp
// files (before the front buffered them, the master went from 15 MB to
// 198 MB).
func TestFrontUnfinishedBodies(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`temp_dir = "{{DIR}}"`+"\n")
	base := m.frontURL()
	addr := strings.TrimPrefix(base, "http://")
	pid := m.cmd.Process.Pid
	quickGet(t, base, "idle", 10*time.Second)
	rss0 := procField(t, fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	read0 := procField(t, fmt.Sprintf("/proc/%d/io", pid), "rchar:")
	const clients, each = 16, 7 << 20
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("b", 64<<10))
	errc := make(chan error, clients)
	for range clients {
		c := rawConn(t, addr, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		go func() {
			for range each / (64 << 10) {
				if _, err := io.WriteString(c, chunk); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil // and never the last chunk
		}()
	}
	for range clients {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// The master has read (nearly) all of it: its read(2) count says so.
	eventually(t, 20*time.Second, "the master to read the 16 bodies", func() bool {
		return procField(t, fmt.Sprintf("/proc/%d/io", pid), "rchar:")-read0 >= clients*(each-256<<10)
	})
	rss1 := procField(t, fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	_, files := masterTempFiles(t, pid)
	t.Logf("master VmRSS %d kB before, %d kB with %d unfinished 7 MiB bodies (%d temp files)", rss0, rss1, clients, files)
	if grow := rss1 - rss0; grow > 40<<10 {
		t.Fatalf("master VmRSS grew by %d kB for 16 unfinished bodies, want under 40 MB", grow)
	}
	if files != clients {
		t.Errorf("%d temp files for %d bodies", files, clients)
	}
	quickGet(t, base, "16 bodies are unfinished", 5*time.Second)
	// The private folder goes with the master.
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.waitExit(10 * time.Second)
	if left, _ := filepath.Glob(filepath.Join(dir, "gofpm-front-*")); len(left) != 0 {
		t.Fatalf("temp folder left after the master stopped: %v", left)
	}
}

// TestFrontMaxConnections: past max_connections the front accepts no
// more: a new client waits in the listen queue until a connection closes,
// then is served.
func TestFrontMaxConnections(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+"max_connections = 2\n")
	base := m.frontURL()
	addr := strings.TrimPrefix(base, "http://")
	held := []net.Conn{rawConn(t, addr, ""), rawConn(t, addr, "")}
	third := rawConn(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(third); len(b) != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection past max_connections = 2 was served: %q %v", b, err)
	}
	m.waitFor("max_connections (2) reached", 5*time.Second)
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(third)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200 ") {
		t.Fatalf("the third connection after one closed: %q, want 200", got)
	}
}

// TestParamsSplitRecords: the params limit holds per request however the
// params are split into records: empty PARAMS records between them do not
// reset the count, on a Go pool's socket (1 MiB, answered 431) and on the
// master's own responder (pm_status_listen, 64 KiB).
func TestParamsSplitRecords(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, strings.Replace(statusPool, "%s", "1", 1))
	split := func(total int) []byte {
		b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
		pair := fcgi.AppendPair(nil, "HTTP_X", strings.Repeat("a", 60<<10))
		for range total/len(pair) + 2 {
			b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, pair)
			for range 20 {
				b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, nil)
			}
		}
		return fcgi.AppendRecords(b, fcgi.TypeStdin, 1, nil)
	}
	res := rawExchange(t, filepath.Join(dir, "www.sock"), split(1<<20), false)
	if !strings.HasPrefix(res.stdout, "Status: 431 ") {
		t.Fatalf("pool socket, 1 MiB of params split by empty records: %s, want a 431", res)
	}
	res = rawExchange(t, filepath.Join(dir, "status.sock"), split(64<<10), false)
	if _, ok := endStatus(res); !ok || len(res.records) < 2 || res.records[0].Type != fcgi.TypeStderr || string(res.records[0].Content) != "params too large" {
		t.Fatalf("status socket, 64 KiB of params split by empty records: %s, want STDERR and END_REQUEST", res)
	}
	m.waitFor("params larger than 65536 bytes", 5*time.Second)
	if code, body := fcgiGet(t, filepath.Join(dir, "status.sock"), "/status"); code != 200 || !strings.Contains(body, "pool:") {
		t.Fatalf("status page after: %d %q", code, body)
	}
}

// TestFrontRequestTimeout: request_timeout bounds the whole exchange: a
// worker that has sent no header by then gets the client a 504 (and its
// request is aborted, so the only worker is free), and a stream that
// has started is cut at it, never passed off as complete.
func TestFrontRequestTimeout(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`request_timeout = "1s"`+"\n")
	base := m.frontURL()
	c := httpClient(15 * time.Second)
	start := time.Now()
	code, _ := httpGet(t, c, base+"/sleep?ms=8000")
	if d := time.Since(start); code != http.StatusGatewayTimeout || d > 4*time.Second {
		t.Fatalf("GET /sleep?ms=8000 = %d after %s, want 504 after about 1s", code, d)
	}
	quickGet(t, base, "after a request_timeout", 3*time.Second)
	resp, err := c.Get(base + "/stream?n=20&ms=200") // 4 s of events
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !strings.HasPrefix(string(b), "tick 1\n") || strings.Contains(string(b), "tick 20") {
		t.Fatalf("a 4 s stream with request_timeout 1s: %q, %v; want its start, then a cut", b, err)
	}
	quickGet(t, base, "after a cut stream", 3*time.Second)
}
