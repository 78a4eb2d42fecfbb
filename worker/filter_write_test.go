package worker

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// writesConn is a memConn that keeps each Write.
type writesConn struct {
	memConn
	writes [][]byte
}

func (w *writesConn) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return w.memConn.Write(p)
}

// TestHeaderJoinsBody: net/http/fcgi flushes a response's header block on
// the handler's first Write; the filter sends it with the next bytes
// flushed, in one write, and never later than that or the close.
func TestHeaderJoinsBody(t *testing.T) {
	header := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"))
	body := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("hello"))
	big := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte(strings.Repeat("x", joinMax)))
	eos := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, nil)
	end := fcgi.AppendEndRequest(nil, 1, 0, fcgi.StatusRequestComplete)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name  string
		steps []string // "header", "body", "big", "done" (the handler returned), "eos", "end", "close"
		want  [][]byte // the writes the web server's side saw
	}{
		{"answer at return", []string{"header", "done", "body", "eos", "end"}, [][]byte{cat(header, body, eos, end)}},
		{"flushed while running", []string{"header", "body", "done", "eos", "end"}, [][]byte{cat(header, body), cat(eos, end)}},
		{"header only, then the end", []string{"header", "done", "eos", "end"}, [][]byte{cat(header, eos, end)}},
		{"large flush follows the header", []string{"header", "big", "done", "eos", "end"}, [][]byte{header, big, cat(eos, end)}},
		{"closed with the header held", []string{"header", "close"}, [][]byte{header}},
		{"a body that is no header block is not held", []string{"body", "done", "eos", "end"}, [][]byte{body, cat(eos, end)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1), stopping: make(chan struct{})}
			s.slots <- struct{}{}
			w := &writesConn{}
			c := newConn(w, s)
			closed := false
			for _, st := range tc.steps {
				switch st {
				case "header":
					c.Write(header)
				case "body":
					c.Write(body)
				case "big":
					c.Write(big)
				case "done":
					c.handlerDone(1)
				case "eos":
					c.Write(eos)
				case "end":
					c.Write(end)
				case "close":
					c.Close()
					closed = true
				}
			}
			if !closed {
				c.Close()
			}
			if len(w.writes) != len(tc.want) {
				t.Fatalf("%d writes, want %d", len(w.writes), len(tc.want))
			}
			for i := range tc.want {
				if !bytes.Equal(w.writes[i], tc.want[i]) {
					t.Fatalf("write %d: %q, want %q", i, w.writes[i], tc.want[i])
				}
			}
		})
	}
}

// TestFlushReachesWebServer: bytes a running handler flushes reach the web
// server at once, header included, however long the handler goes on.
func TestFlushReachesWebServer(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	defer close(release)
	c, br := dialRaw(t, ts.sock)
	c.Write(rawRequest(1, false, "/events"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, fcgi.MaxRecordSize)
	var stdout string
	for !strings.Contains(stdout, "data: first") {
		rec, err := fcgi.ReadRecord(br, buf)
		if err != nil {
			t.Fatalf("before the first event (the handler waits): %v; got %q", err, stdout)
		}
		if rec.Type != fcgi.TypeStdout {
			t.Fatalf("record %v before the first event", rec.Type)
		}
		stdout += string(rec.Content)
	}
	if !strings.HasPrefix(stdout, "Status: 200 OK\r\n") || !strings.Contains(stdout, "Content-Type: text/event-stream\r\n") {
		t.Fatalf("the flushed answer lacks its header: %q", stdout)
	}
}
