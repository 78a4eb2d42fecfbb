package e2e

// The bad-input table of docs/security.md, apart from the HTTP front: each
// row sends one malformed thing to a real gofpm and its real workers, checks
// what comes back (and what is logged), then checks that the pool still
// serves a good request.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// fcgiGet sends one well-formed GET to a FastCGI socket with gofpm's own
// client and returns the status and body.
func fcgiGet(t *testing.T, sock, uri string, extra ...string) (int, string) {
	t.Helper()
	path, query, _ := strings.Cut(uri, "?")
	params := map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": path, "SCRIPT_FILENAME": path,
		"REQUEST_URI": uri, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
		"REDIRECT_STATUS": "200", "HTTP_HOST": "localhost",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		params[extra[i]] = extra[i+1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := &fcgi.Client{Network: "unix", Address: sock}
	resp, err := c.Do(ctx, &fcgi.Request{Params: params})
	if err != nil {
		t.Fatalf("GET %s on %s: %v", uri, sock, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s on %s: reading body: %v", uri, sock, err)
	}
	return resp.StatusCode, string(b)
}

// rawResult is what came back on a raw connection.
type rawResult struct {
	records []fcgi.Record // content copied
	stdout  string
	err     error // how the reading ended: nil after END_REQUEST or UNKNOWN_TYPE
}

func (r rawResult) closed() bool { return r.err != nil && len(r.records) == 0 }

func (r rawResult) String() string {
	var ts []string
	for _, rec := range r.records {
		ts = append(ts, rec.Type.String())
	}
	return fmt.Sprintf("records %v, stdout %q, end %v", ts, r.stdout, r.err)
}

// rawExchange writes send on a new connection to sock (half-closing it
// after when closeWrite), then reads records until END_REQUEST,
// UNKNOWN_TYPE or the end of the connection.
func rawExchange(t *testing.T, sock string, send []byte, closeWrite bool) rawResult {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(send) // may fail once the peer closed: that is a row's point
		if closeWrite {
			c.(*net.UnixConn).CloseWrite()
		}
	}()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	var res rawResult
	for {
		rec, err := fcgi.ReadRecord(br, nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no answer and no close within 15s (%s)", res)
			}
			res.err = err
			return res
		}
		rec.Content = append([]byte(nil), rec.Content...)
		res.records = append(res.records, rec)
		if rec.Type == fcgi.TypeStdout {
			res.stdout += string(rec.Content)
		}
		if rec.Type == fcgi.TypeEndRequest || rec.Type == fcgi.TypeUnknownType {
			return res
		}
	}
}

// badRecords are the malformed inputs sent to both FastCGI sockets.
func badRecords() map[string][]byte {
	begin := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	hugeName := append(append([]byte(nil), begin...), fcgi.AppendRecords(nil, fcgi.TypeParams, 1, []byte{0xff, 0xff, 0xff, 0xff, 1, 'A', 'b'})...)
	hugeName = fcgi.AppendRecords(hugeName, fcgi.TypeParams, 1, nil)
	hugeName = fcgi.AppendRecords(hugeName, fcgi.TypeStdin, 1, nil)
	badRole := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	badRole[9] = 9 // role 9: no such role
	wrongVersion := append([]byte(nil), begin...)
	wrongVersion[0] = 2
	lying := append([]byte(nil), begin[:8]...)
	lying[5] = 100 // content length 100, 8 bytes follow
	lying = append(lying, begin[8:]...)
	rng := rand.New(rand.NewPCG(7, 7))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	garbage[0] = 0xaa
	return map[string][]byte{
		"wrong version":        wrongVersion,
		"http on fcgi":         []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
		"garbage":              garbage,
		"truncated header":     begin[:3],
		"length lies":          lying,
		"unknown mgmt type":    fcgi.AppendRecords(nil, 42, 0, []byte("junk")),
		"bad role":             badRole,
		"name length 2^31":     hugeName,
		"params over 1 MiB":    paramsOf(1<<20 + 1),
		"params over 64 KiB":   paramsOf(64<<10 + 1),
		"stdin of unknown req": fcgi.AppendRecords(nil, fcgi.TypeStdin, 9, []byte("body")),
	}
}

// paramsOf is a BEGIN_REQUEST followed by n bytes of params that never end.
func paramsOf(n int) []byte {
	b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	pair := fcgi.AppendPair(nil, "HTTP_X", strings.Repeat("a", n))
	return fcgi.AppendRecords(b, fcgi.TypeParams, 1, pair)
}

func endStatus(r rawResult) (fcgi.ProtocolStatus, bool) {
	for _, rec := range r.records {
		if rec.Type == fcgi.TypeEndRequest {
			_, st, err := fcgi.ParseEndRequest(rec.Content)
			return st, err == nil
		}
	}
	return 0, false
}

func unknownTypeOf(r rawResult) int {
	if n := len(r.records); n > 0 && r.records[n-1].Type == fcgi.TypeUnknownType && len(r.records[n-1].Content) == 8 {
		return int(r.records[n-1].Content[0])
	}
	return -1
}

// TestBadInputPoolSocket: malformed FastCGI on a Go pool's socket (net/http/fcgi
// and gofpm's worker package): each gets its answer or a closed
// connection, the worker survives, and the next good request is served
// by the same worker.
func TestBadInputPoolSocket(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 1))
	sock := filepath.Join(dir, "hello.sock")
	code, body := fcgiGet(t, sock, "/")
	if code != 200 {
		t.Fatalf("baseline: %d %q", code, body)
	}
	pid := pidOf(t, body)
	bad := badRecords()
	for _, row := range []struct {
		name       string
		closeWrite bool
		check      func(rawResult) string
	}{
		{"wrong version", true, wantClosed},
		{"http on fcgi", true, wantClosed},
		{"garbage", true, wantClosed},
		{"truncated header", true, wantClosed},
		{"length lies", true, wantClosed},
		{"stdin of unknown req", true, wantClosed}, // ignored (spec: unknown request ids are ignored)
		{"unknown mgmt type", false, func(r rawResult) string {
			if unknownTypeOf(r) != 42 {
				return "want FCGI_UNKNOWN_TYPE for type 42"
			}
			return ""
		}},
		{"bad role", false, func(r rawResult) string {
			if st, ok := endStatus(r); !ok || st != fcgi.StatusUnknownRole {
				return "want END_REQUEST with FCGI_UNKNOWN_ROLE"
			}
			return ""
		}},
		{"name length 2^31", false, func(r rawResult) string {
			if !strings.HasPrefix(r.stdout, "Status: 500 ") {
				return "want a 500 (the params end at the bad pair: no REQUEST_METHOD)"
			}
			return ""
		}},
		{"params over 1 MiB", false, func(r rawResult) string {
			if !strings.HasPrefix(r.stdout, "Status: 431 ") {
				return "want a 431"
			}
			return ""
		}},
	} {
		res := rawExchange(t, sock, bad[row.name], row.closeWrite)
		if msg := row.check(res); msg != "" {
			t.Errorf("%s: %s; got %s", row.name, msg, res)
		}
		code, body := fcgiGet(t, sock, "/")
		if code != 200 || pidOf(t, body) != pid {
			t.Fatalf("%s: next request %d %q, want 200 from worker %d", row.name, code, body, pid)
		}
	}
	m.waitFor("FastCGI params exceed 1048576 bytes, answered 431", 5*time.Second)
	if n := m.count(" exited "); n != 0 {
		t.Errorf("%d worker exit(s) logged, want none", n)
	}
}

func wantClosed(r rawResult) string {
	if !r.closed() {
		return "want the connection closed without an answer"
	}
	return ""
}

// TestBadInputStatusSocket: malformed FastCGI on pm_status_listen (the
// master's own responder): closed with one warning each, or answered as
// the specification says; the master keeps running and the page answers.
// Also the pages relay of a Go worker: a URI too long for the master is
// refused by the worker, whose connection to the master stays usable.
func TestBadInputStatusSocket(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, strings.Replace(statusPool, "%s", "1", 1))
	ssock := filepath.Join(dir, "status.sock")
	const logged = "status listener: closing a connection"
	bad := badRecords()
	for _, row := range []struct {
		name       string
		closeWrite bool
		logs       string // the warning's detail; "" = nothing logged
		check      func(rawResult) string
	}{
		{"wrong version", true, "unsupported version 2", wantClosed},
		{"http on fcgi", true, "unsupported version 71", wantClosed},
		{"garbage", true, "unsupported version 170", wantClosed},
		{"truncated header", true, "truncated FastCGI record", wantClosed},
		{"length lies", true, "truncated FastCGI record", wantClosed},
		{"stdin of unknown req", true, "STDIN record for request 9, want 0", wantClosed},
		{"unknown mgmt type", false, "", func(r rawResult) string {
			if unknownTypeOf(r) != 42 {
				return "want FCGI_UNKNOWN_TYPE for type 42"
			}
			return ""
		}},
		{"bad role", false, "", func(r rawResult) string {
			if st, ok := endStatus(r); !ok || st != fcgi.StatusUnknownRole {
				return "want END_REQUEST with FCGI_UNKNOWN_ROLE"
			}
			return ""
		}},
		{"name length 2^31", false, "exceeds the", func(r rawResult) string { return wantClosed(r) }},
		{"params over 64 KiB", false, "params larger than 65536 bytes", func(r rawResult) string {
			if _, ok := endStatus(r); !ok || len(r.records) < 2 || r.records[0].Type != fcgi.TypeStderr {
				return "want STDERR and END_REQUEST"
			}
			return ""
		}},
	} {
		before := m.count(logged)
		res := rawExchange(t, ssock, bad[row.name], row.closeWrite)
		if msg := row.check(res); msg != "" {
			t.Errorf("%s: %s; got %s", row.name, msg, res)
		}
		if row.logs != "" {
			lines := m.waitUntil(row.name+" warning", 5*time.Second, func([]logLine) bool { return m.count(logged) > before })
			var l logLine
			for _, x := range lines {
				if strings.Contains(x.Message, logged) {
					l = x // the last one
				}
			}
			if !strings.Contains(l.Message, row.logs) || l.Level != "warn" {
				t.Errorf("%s: logged %s %q, want a warning containing %q", row.name, l.Level, l.Message, row.logs)
			}
			if n := m.count(logged) - before; n != 1 {
				t.Errorf("%s: %d warnings, want 1", row.name, n)
			}
		} else if n := m.count(logged) - before; n != 0 {
			t.Errorf("%s: %d warnings, want none", row.name, n)
		}
		if code, body := fcgiGet(t, ssock, "/status"); code != 200 || !strings.Contains(body, "pool:") {
			t.Fatalf("%s: status page after it: %d %q", row.name, code, body)
		}
	}
	// The relay: a Go worker passes /status to the master over its own
	// connection; a URI the master would refuse is refused by the worker.
	wsock := filepath.Join(dir, "www.sock")
	if code, _ := fcgiGet(t, wsock, "/status?"+strings.Repeat("a", 9000)); code != 414 {
		t.Errorf("long status URI through the worker: %d, want 414", code)
	}
	if code, body := fcgiGet(t, wsock, "/status"); code != 200 || !strings.Contains(body, "pool:") {
		t.Errorf("status through the worker after it: %d %q", code, body)
	}
	if !alive(m.cmd.Process.Pid) {
		t.Fatal("master died")
	}
}

// TestBadInputHangUp: a web server that hangs up mid-request reaches the
// handler (its r.Context() is cancelled), so a single worker sleeping 60 s
// is free for the next request at once; FCGI_ABORT_REQUEST does the same.
func TestBadInputHangUp(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, fmt.Sprintf(helloPool, 1))
	sock := filepath.Join(dir, "hello.sock")
	_, body := fcgiGet(t, sock, "/")
	pid := pidOf(t, body)
	req := func(ms int, keep bool) []byte {
		uri := fmt.Sprintf("/sleep?ms=%d", ms)
		b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, keep)
		b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SCRIPT_NAME": "/sleep", "QUERY_STRING": uri[7:], "SERVER_PROTOCOL": "HTTP/1.1",
		}))
		b = fcgi.AppendRecords(b, fcgi.TypeParams, 1, nil)
		return fcgi.AppendRecords(b, fcgi.TypeStdin, 1, nil)
	}
	for i, how := range []string{"close", "abort"} {
		ms := 60000 + i
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(req(ms, true))
		m.waitFor(fmt.Sprintf("sleeping %d ms", ms), 10*time.Second)
		start := time.Now()
		if how == "close" {
			c.Close()
		} else {
			// Once the body has ended, net/http/fcgi ignores an abort (it
			// forgets the request id); the worker cancels the handler's
			// context, and the END_REQUEST written when the handler has
			// returned shows the sleep was cut.
			c.Write(fcgi.AppendRecords(nil, fcgi.TypeAbortRequest, 1, nil))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for ends := 0; ends < 1; {
				rec, err := fcgi.ReadRecord(br, nil)
				if err != nil {
					t.Fatalf("abort: reading the END_REQUESTs: %v after %s", err, time.Since(start))
				}
				if rec.Type == fcgi.TypeEndRequest {
					ends++
				}
			}
			c.Close()
		}
		code, body := fcgiGet(t, sock, "/")
		if took := time.Since(start); code != 200 || pidOf(t, body) != pid || took > 5*time.Second {
			t.Fatalf("%s: next request %d %q after %s, want 200 from worker %d at once", how, code, body, took, pid)
		}
		c.Close()
	}
}

// TestBadInputSilentClient: a client that connects and sends nothing holds
// the worker that accepted it (as with php-fpm): the status page shows it
// "Reading headers", request_terminate_timeout ends it, and the
// replacement serves.
func TestBadInputSilentClient(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
request_terminate_timeout = "2s"
`)
	sock, ssock := filepath.Join(dir, "www.sock"), filepath.Join(dir, "status.sock")
	_, body := fcgiGet(t, sock, "/")
	pid := pidOf(t, body)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, 5*time.Second, "the worker shown Reading headers", func() bool {
		_, body := fcgiGet(t, ssock, "/status?json&full")
		var st struct {
			Processes []struct {
				PID   int    `json:"pid"`
				State string `json:"state"`
			} `json:"processes"`
		}
		json.Unmarshal([]byte(body), &st)
		return len(st.Processes) == 1 && st.Processes[0].PID == pid && st.Processes[0].State == "Reading headers"
	})
	m.waitFor(fmt.Sprintf("child %d, script", pid), 5*time.Second)
	m.waitFor("execution timed out", time.Second)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent connection: read %d, %v; want it closed", n, err)
	}
	code, body := fcgiGet(t, sock, "/")
	if code != 200 || pidOf(t, body) == pid {
		t.Fatalf("after the timeout: %d %q, want 200 from a new worker", code, body)
	}
}

// TestBadInputPHPCGI: bytes that are not FastCGI on a php-cgi pool's
// socket: php-cgi drops the connection (or dies, and the master replaces
// it); either way the pool serves PHP again.
func TestBadInputPHPCGI(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "i.php"), []byte(`<?php echo "php pid=", getmypid(), "\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1
`)
	sock, script := filepath.Join(dir, "php.sock"), filepath.Join(dir, "i.php")
	get := func(what string) int {
		code, body := fcgiGet(t, sock, "/i.php", "SCRIPT_FILENAME", script)
		if code != 200 || !strings.HasPrefix(body, "php pid=") {
			t.Fatalf("%s: %d %q", what, code, body)
		}
		return pidOf(t, body)
	}
	pid := get("baseline")
	bad := badRecords()
	for _, name := range []string{"wrong version", "http on fcgi", "garbage", "truncated header", "length lies", "unknown mgmt type", "bad role", "name length 2^31", "params over 1 MiB"} {
		res := rawExchange(t, sock, bad[name], true)
		now := get(name)
		t.Logf("%s: %s; served by %d", name, res, now)
		if now != pid {
			m.waitFor(fmt.Sprintf("child %d exited", pid), 5*time.Second)
			pid = now
		}
	}
}

// TestBadInputNeverAccepts: a command that runs but never accepts on fd 0
// (sleep) leaves connections in the listen queue; the master says so once.
func TestBadInputNeverAccepts(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["/bin/sleep", "3600"]
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
`)
	for range 2 {
		c, err := net.Dial("unix", filepath.Join(dir, "www.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// "for 10s" or a second more: the check runs on the pool's 1 s tick.
	l := m.waitFor(" while 2 wait(s) in the listen queue; is the command a FastCGI worker that accepts on fd 0?", 20*time.Second)
	if !regexp.MustCompile(`no worker has accepted a connection for 1[01]s while`).MatchString(l.Message) {
		t.Errorf("warning %q, want it after 10 or 11 s", l.Message)
	}
	if l.Level != "warn" {
		t.Errorf("level %s, want warn", l.Level)
	}
	if _, body := fcgiGet(t, filepath.Join(dir, "status.sock"), "/status"); !strings.Contains(body, "listen queue:         2\n") {
		t.Errorf("status page: %q", body)
	}
	if n := m.count("no worker has accepted"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}

// TestBadInputFullDisk: logs that cannot be written (/dev/full: ENOSPC on
// every write) are reported once, not once per line, and requests are
// still answered 200.
func TestBadInputFullDisk(t *testing.T) {
	t.Run("error_log", func(t *testing.T) {
		dir := shortTempDir(t)
		m := launchMaster(t, dir, `
error_log = "/dev/full"

[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
catch_workers_output = true
`)
		sock := filepath.Join(dir, "www.sock")
		eventually(t, 10*time.Second, "the pool socket", func() bool { _, err := os.Stat(sock); return err == nil })
		for i := range 5 {
			if code, body := fcgiGet(t, sock, "/sleep?ms=1"); code != 200 {
				t.Fatalf("request %d: %d %q", i, code, body)
			}
		}
		m.waitFor("writing log file /dev/full: write /dev/full: no space left on device", 5*time.Second)
		if n := m.count("no space left on device"); n != 1 {
			t.Errorf("%d error lines on stderr, want 1:\n%s", n, m.logText())
		}
	})
	t.Run("access_log and slowlog", func(t *testing.T) {
		dir := shortTempDir(t)
		m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
catch_workers_output = true
access_log = "/dev/full"
slowlog = "/dev/full"
request_slowlog_timeout = "200ms"
`)
		sock := filepath.Join(dir, "www.sock")
		for i := range 3 {
			if code, body := fcgiGet(t, sock, "/sleep?ms=600"); code != 200 {
				t.Fatalf("slow request %d: %d %q", i, code, body)
			}
			m.waitFor("executing too slow", 2*time.Second)
		}
		for i := range 5 {
			if code, body := fcgiGet(t, sock, "/"); code != 200 {
				t.Fatalf("request %d: %d %q", i, code, body)
			}
		}
		m.waitFor("gofpm worker: access log: write", 5*time.Second)
		m.waitFor("writing slowlog: writing log file /dev/full", 5*time.Second)
		m.waitUntil("3 slow requests", 5*time.Second, func([]logLine) bool { return m.count("executing too slow") >= 3 })
		if n := m.count("gofpm worker: access log:"); n != 1 {
			t.Errorf("%d access log errors, want 1", n)
		}
		if n := m.count("writing slowlog"); n != 1 {
			t.Errorf("%d slowlog errors, want 1", n)
		}
	})
}

// TestBadInputSocketDir: a pool socket in a directory that does not exist,
// is a file, or is read-only: gofpm run fails at once with one line naming
// the path, and starts no worker.
func TestBadInputSocketDir(t *testing.T) {
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644)
	rows := []struct{ name, sockDir, want string }{
		{"missing", dir + "/nope", "socket directory " + dir + "/nope: stat " + dir + "/nope: no such file or directory"},
		{"a file", dir + "/afile", dir + "/afile/www.sock: not a directory"},
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	if err := syscall.Mount("tmpfs", ro, "tmpfs", syscall.MS_RDONLY, "size=64k"); err == nil {
		t.Cleanup(func() { syscall.Unmount(ro, 0) })
		rows = append(rows, struct{ name, sockDir, want string }{"read-only", ro, "cannot create the socket in " + ro + ": read-only file system"})
	} else {
		t.Logf("read-only row skipped: mounting a tmpfs: %v", err)
	}
	for _, row := range rows {
		conf := writeConfig(t, dir, `
[pool.www]
listen = "`+row.sockDir+`/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err := exec.CommandContext(ctx, bins.gofpm, "run", "-R", "-c", conf, "--log-format", "json").CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%s: exit %v, want a failure; output %s", row.name, err, out)
			continue
		}
		var errs []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var l logLine
			if json.Unmarshal([]byte(line), &l) == nil && l.Level == "error" {
				errs = append(errs, l.Message)
			}
		}
		if len(errs) != 1 || !strings.Contains(errs[0], row.want) {
			t.Errorf("%s: error lines %q, want one containing %q", row.name, errs, row.want)
		}
	}
}

// TestBadInputConfigCheck: gofpm check on a config with NUL bytes, invalid
// UTF-8 or 10 MB of random bytes prints one FILE:LINE:COL line and exits 1.
// (FuzzLoad in config_fuzz_test.go feeds Load arbitrary bytes.)
func TestBadInputConfigCheck(t *testing.T) {
	dir := shortTempDir(t)
	good := "[pool.www]\nlisten = \"" + dir + "/www.sock\"\ncommand = [\"/bin/cat\"]\npm = \"static\"\npm_max_children = 1\n"
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 10<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = '#' // a comment... that soon holds bytes that are not UTF-8
	for _, row := range []struct {
		name string
		conf []byte
		want string // "" = accepted
	}{
		{"NUL in a value", []byte(strings.Replace(good, `"static"`, "\"sta\x00tic\"", 1)), ":4:9: invalid TOML: TOML files cannot contain control characters: '0x00'"},
		{"NUL bytes first (UTF-16?)", append([]byte("\x00\x00"), good...), ":1:1: invalid TOML: files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8"},
		{"invalid UTF-8", []byte(strings.Replace(good, `"static"`, "\"st\xff\xfeatic\"", 1)), ":4:7: invalid TOML: invalid UTF-8 byte: 0xff"},
		{"10 MB of random bytes", random, "invalid TOML: invalid UTF-8 byte"},
		{"10 MB comment (valid)", []byte("# " + strings.Repeat("x", 10<<20) + "\n" + good), ""},
	} {
		path := filepath.Join(dir, "c.toml")
		os.WriteFile(path, row.conf, 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, bins.gofpm, "check", "-R", "-c", path).CombinedOutput()
		cancel()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if row.want == "" {
			if err != nil {
				t.Errorf("%s: %v %s", row.name, err, out)
			}
			continue
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], path+":") || !strings.Contains(lines[0], row.want) {
			t.Errorf("%s: exit %v, output %q; want exit 1 and one line %q", row.name, err, out, path+row.want)
		}
	}
}
