package fcgi

// Test servers: the standard library's net/http/fcgi for interoperability,
// and a tiny hand-written one for what the standard library cannot produce
// (STDERR, app status, OVERLOADED, UNKNOWN_ROLE, truncated responses, ...).

import (
	"errors"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds every wait on a channel in the tests.
const waitTimeout = 10 * time.Second

// socketPath returns a Unix socket path in a short temporary directory:
// t.TempDir() can exceed the ~108 bytes of sun_path.
func socketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// listen opens a counting Unix listener closed in t.Cleanup.
func listen(t testing.TB) *countingListener {
	ln, err := net.Listen("unix", socketPath(t))
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	t.Cleanup(func() { ln.Close() })
	return cl
}

// startStd serves h with net/http/fcgi and returns a client for it.
func startStd(t testing.TB, h http.Handler) (*Client, *countingListener) {
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		stdfcgi.Serve(ln, h)
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("net/http/fcgi.Serve did not return")
		}
	})
	c := &Client{Network: "unix", Address: ln.Addr().String()}
	t.Cleanup(c.CloseIdleConnections)
	return c, ln
}

// rawConn is the server side of one connection of the hand-written server.
type rawConn struct {
	net.Conn
	buf  []byte
	lean bool // benchmarks: neither parse params nor keep stdin
}

// rawRequest is what the client sent.
type rawRequest struct {
	id     uint16
	role   Role
	keep   bool
	params map[string]string
	stdin  []byte
}

// readRequest reads BEGIN_REQUEST, the PARAMS stream and the STDIN stream.
func (c *rawConn) readRequest() (*rawRequest, error) {
	r := &rawRequest{}
	var params []byte
	paramsDone, stdinDone := false, false
	for !paramsDone || !stdinDone {
		rec, err := ReadRecord(c, c.buf)
		if err != nil {
			return nil, err
		}
		switch rec.Type {
		case TypeBeginRequest:
			r.id = rec.RequestID
			if r.role, r.keep, err = ParseBeginRequest(rec.Content); err != nil {
				return nil, err
			}
		case TypeParams:
			if !c.lean {
				params = append(params, rec.Content...)
			}
			paramsDone = len(rec.Content) == 0
		case TypeStdin:
			if !c.lean {
				r.stdin = append(r.stdin, rec.Content...)
			}
			stdinDone = len(rec.Content) == 0
		default:
			return nil, errors.New("unexpected " + rec.Type.String())
		}
	}
	if c.lean {
		return r, nil
	}
	var err error
	r.params, err = ReadPairs(params, 1<<20)
	return r, err
}

func (c *rawConn) send(typ RecordType, id uint16, content string) {
	c.Write(AppendRecords(nil, typ, id, []byte(content)))
}

func (c *rawConn) end(id uint16, app uint32, st ProtocolStatus) {
	c.Write(AppendEndRequest(nil, id, app, st))
}

// respond sends a complete, ordinary response.
func (c *rawConn) respond(id uint16, stdout string) {
	b := AppendRecords(nil, TypeStdout, id, []byte(stdout))
	b = AppendRecords(b, TypeStdout, id, nil)
	b = AppendEndRequest(b, id, 0, StatusRequestComplete)
	c.Write(b)
}

// startRaw runs serve on each accepted connection of a Unix listener. The
// connections are closed and the goroutines waited for in t.Cleanup.
func startRaw(t testing.TB, serve func(c *rawConn)) (*Client, *countingListener) {
	ln := listen(t)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(&rawConn{Conn: nc, buf: make([]byte, MaxRecordSize)})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("raw server goroutines did not end")
		}
	})
	c := &Client{Address: "unix:" + ln.Addr().String()}
	t.Cleanup(c.CloseIdleConnections)
	return c, ln
}

// within runs f and fails the test if it does not return in time.
func within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return within %v", what, waitTimeout)
	}
}

// readAll reads r to the end within waitTimeout.
func readAll(t testing.TB, r io.Reader) (b []byte, err error) {
	t.Helper()
	within(t, "reading the body", func() { b, err = io.ReadAll(r) })
	return b, err
}
