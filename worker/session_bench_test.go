package worker

import (
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

// BenchmarkSession is gofpm's own part of a worker's request path with the
// long-lived connection: a session carrying a web server connection's
// records through the filter, read and answered the way net/http/fcgi does
// (header, then content; the answer's records one Write each, under the
// session's id). net/http/fcgi and the socket are left out. "request" is a
// request on a kept connection, "conn" a connection per request (nginx's
// default), which includes taking the next connection and closing this one.
func BenchmarkSession(b *testing.B) {
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "request", false: "conn"}[keep]
		b.Run(name, func(b *testing.B) {
			in := &memConn{}
			l := &memListener{c: in, req: benchRequest(keep)}
			s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1),
				stopping: make(chan struct{}), ln: l}
			nc, _ := newSessions(s).Accept()
			ss := nc.(*session)
			stdout := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<html>hello</html>"))
			eos := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, nil)
			end := fcgi.AppendEndRequest(nil, 1, 0, fcgi.StatusRequestComplete)
			answer := len(stdout) + len(eos) + len(end)
			rec := make([]byte, fcgi.MaxRecordSize)
			out := make([]byte, 0, 64)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				if keep && n > 0 {
					in.in.Reset(l.req)
				}
				var id uint16
				for { // net/http/fcgi's reading: a header, then its content
					if _, err := io.ReadFull(ss, rec[:fcgi.HeaderSize]); err != nil {
						b.Fatal(err)
					}
					h, err := fcgi.ParseHeader(rec)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(ss, rec[:h.ContentLength+h.PaddingLength]); err != nil {
						b.Fatal(err)
					}
					if h.Type == fcgi.TypeStdin && h.ContentLength == 0 {
						id = h.RequestID
						break
					}
				}
				for _, r := range [][]byte{stdout, eos, end} {
					out = append(out[:0], r...)
					out[2], out[3] = byte(id>>8), byte(id)
					if len(out) == len(eos) {
						ss.mu.Lock()
						i := ss.byID(id)
						fc := ss.reqs[i].fc
						ss.mu.Unlock()
						fc.handlerDone(1)
					}
					ss.Write(out)
				}
				n++
			}
			if in.written != n*answer {
				b.Fatalf("%d bytes written for %d requests, want %d each", in.written, n, answer)
			}
		})
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
