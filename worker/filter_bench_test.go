package worker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// memConn is a net.Conn over memory for the filter's benchmarks: reads come
// from in, writes are counted and dropped.
type memConn struct {
	in      bytes.Reader
	written int
}

func (m *memConn) Read(p []byte) (int, error)         { return m.in.Read(p) }
func (m *memConn) Write(p []byte) (int, error)        { m.written += len(p); return len(p), nil }
func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return unixAddr }
func (m *memConn) RemoteAddr() net.Addr               { return unixAddr }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

var unixAddr = &net.UnixAddr{Net: "unix"}

// BenchmarkFilter is gofpm's own part of a worker's request path: the
// connection filter reading the web server's records (BEGIN_REQUEST, the
// abort token's PARAMS record inserted, PARAMS, STDIN) and writing the
// answer's records the way net/http/fcgi does (held, then sent with the
// END_REQUEST in one write). net/http/fcgi itself and the socket are left
// out. "request" is one request on a kept connection, "conn" one
// connection with one request (nginx's default): the connection's own
// object is its one allocation.
func BenchmarkFilter(b *testing.B) {
	params := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/index.php?a=1", "SCRIPT_NAME": "/index.php",
		"SCRIPT_FILENAME": "/srv/index.php", "QUERY_STRING": "a=1", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "example.com", "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
	}
	var pairs []byte
	for k, v := range params {
		pairs = fcgi.AppendPair(pairs, k, v)
	}
	var req []byte
	req = fcgi.AppendBeginRequest(req, 1, fcgi.RoleResponder, true)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, pairs)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
	stdout := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<html>hello</html>"))
	eos := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, nil)
	end := fcgi.AppendEndRequest(nil, 1, 0, fcgi.StatusRequestComplete)
	s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1), stopping: make(chan struct{})}
	buf := make([]byte, 4096)
	// serve reads the request's records (on a kept connection up to the
	// last, else up to the web server's EOF) and writes the answer.
	serve := func(tb testing.TB, c *conn, in *memConn, kept bool) {
		in.in.Reset(req)
		for {
			if _, err := c.Read(buf); err != nil {
				if err == io.EOF {
					break
				}
				tb.Fatal(err)
			}
			if kept && in.in.Len() == 0 && len(c.out) == 0 {
				break
			}
		}
		c.Write(stdout)
		c.handlerDone(1, c.tokenOf(1))
		c.Write(eos)
		c.Write(end)
	}
	// answered fails b unless the answer of every request served reached
	// the web server's side whole.
	answer := len(stdout) + len(eos) + len(end)
	answered := func(b *testing.B, in *memConn, requests int) {
		if in.written != requests*answer {
			b.Fatalf("%d bytes written for %d requests, want %d each", in.written, requests, answer)
		}
	}
	b.Run("request", func(b *testing.B) {
		in := &memConn{}
		s.slots <- struct{}{}
		c := newConn(in, s)
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			serve(b, c, in, true)
			n++
		}
		c.Close()
		answered(b, in, n)
	})
	b.Run("conn", func(b *testing.B) {
		in := &memConn{}
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			s.slots <- struct{}{}
			c := newConn(in, s)
			serve(b, c, in, false)
			c.Close()
			n++
		}
		answered(b, in, n)
	})
}
