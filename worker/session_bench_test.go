package worker

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// memListener hands out one memConn again and again, refilled with req.
type memListener struct {
	c   *memConn
	req []byte
}

func (l *memListener) Accept() (net.Conn, error) { l.c.in.Reset(l.req); return l.c, nil }
func (l *memListener) Close() error              { return nil }
func (l *memListener) Addr() net.Addr            { return unixAddr }

// sessionHarness drives a session the way net/http/fcgi does, over a
// memConn the listener hands out again and again.
type sessionHarness struct {
	in               *memConn
	l                *memListener
	ss               *session
	keep             bool
	stdout, eos, end []byte
	answer           int // bytes of one answer
	rec, out         []byte
	n                int // requests served
}

func newSessionHarness(keep bool) *sessionHarness {
	in := &memConn{}
	l := &memListener{c: in, req: benchRequest(keep)}
	s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1),
		stopping: make(chan struct{}), ln: l}
	nc, _ := newSessions(s).Accept()
	h := &sessionHarness{in: in, l: l, ss: nc.(*session), keep: keep,
		stdout: fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<html>hello</html>")),
		eos:    fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, nil),
		end:    fcgi.AppendEndRequest(nil, 1, 0, fcgi.StatusRequestComplete),
		rec:    make([]byte, fcgi.MaxRecordSize), out: make([]byte, 0, 64)}
	h.answer = len(h.stdout) + len(h.eos) + len(h.end)
	return h
}

// serve reads one request from the session (a header, then its content,
// as net/http/fcgi reads) and answers it: the header, the content, the
// end, one Write each, under the session's id.
func (h *sessionHarness) serve() error {
	ss := h.ss
	if h.keep && h.n > 0 {
		h.in.in.Reset(h.l.req)
	}
	var id uint16
	for {
		if _, err := io.ReadFull(ss, h.rec[:fcgi.HeaderSize]); err != nil {
			return err
		}
		hd, err := fcgi.ParseHeader(h.rec)
		if err != nil {
			return err
		}
		if _, err := io.ReadFull(ss, h.rec[:hd.ContentLength+hd.PaddingLength]); err != nil {
			return err
		}
		if hd.Type == fcgi.TypeStdin && hd.ContentLength == 0 {
			id = hd.RequestID
			break
		}
	}
	for _, r := range [][]byte{h.stdout, h.eos, h.end} {
		h.out = append(h.out[:0], r...)
		h.out[2], h.out[3] = byte(id>>8), byte(id)
		if len(h.out) == len(h.eos) {
			ss.mu.Lock()
			i := ss.byID(id)
			fc := ss.reqs[i].fc
			ss.mu.Unlock()
			fc.handlerDone(1, fc.tokenOf(1))
		}
		ss.Write(h.out)
	}
	h.n++
	if h.in.written != h.n*h.answer {
		return fmt.Errorf("%d bytes written for %d requests, want %d each", h.in.written, h.n, h.answer)
	}
	return nil
}

// BenchmarkSession is gofpm's own part of a worker's request path with the
// long-lived connection: a session carrying a web server connection's
// records through the filter (sessionHarness). net/http/fcgi and the
// socket are left out. "request" is a request on a kept connection,
// "conn" a connection per request (nginx's default), which includes taking
// the next connection and closing this one.
func BenchmarkSession(b *testing.B) {
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "request", false: "conn"}[keep]
		b.Run(name, func(b *testing.B) {
			h := newSessionHarness(keep)
			b.ReportAllocs()
			for b.Loop() {
				if err := h.serve(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSessionAllocatesNothing holds BenchmarkSession's figure: a request,
// and a connection per request, cost the session and the filter no
// allocation (a connection whose read buffers did not go back to their
// pool cost 12 and 78 KB).
func TestSessionAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers at random under the race detector")
	}
	for _, keep := range []bool{true, false} {
		h := newSessionHarness(keep)
		var err error
		if n := testing.AllocsPerRun(200, func() {
			if e := h.serve(); e != nil && err == nil {
				err = e
			}
		}); n != 0 || err != nil {
			t.Errorf("keep=%v: %.1f allocations per request (want 0), err %v", keep, n, err)
		}
	}
}

// benchRequest is a request as nginx sends it.
func benchRequest(keep bool) []byte {
	params := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/index.php?a=1", "SCRIPT_NAME": "/index.php",
		"SCRIPT_FILENAME": "/srv/index.php", "QUERY_STRING": "a=1", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "example.com", "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
	}
	req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, keep)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, params))
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
	return fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
}

// tokenOf is the token of request id on c, as its handler has it.
func (c *conn) tokenOf(id uint16) uint64 {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	if r := c.reqs.get(id, false); r != nil {
		return r.tok
	}
	return 0
}
