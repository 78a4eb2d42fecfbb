package worker

import (
	"bufio"
	"bytes"
	"io"
	"net"
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
	fake := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 200 OK\r\n\r\n")) // body bytes
	eos := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, nil)
	end := fcgi.AppendEndRequest(nil, 1, 0, fcgi.StatusRequestComplete)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name  string
		steps []string // "header", "body", "big", "fake", "done" (the handler returned), "eos", "end", "close"
		want  [][]byte // the writes the web server's side saw
	}{
		{"answer at return", []string{"header", "done", "body", "eos", "end"}, [][]byte{cat(header, body, eos, end)}},
		{"flushed while running", []string{"header", "body", "done", "eos", "end"}, [][]byte{cat(header, body), cat(eos, end)}},
		{"header only, then the end", []string{"header", "done", "eos", "end"}, [][]byte{cat(header, eos, end)}},
		{"large flush follows the header", []string{"header", "big", "done", "eos", "end"}, [][]byte{header, big, cat(eos, end)}},
		{"closed with the header held", []string{"header", "close"}, [][]byte{header}},
		{"a body that is no header block is not held", []string{"body", "done", "eos", "end"}, [][]byte{body, cat(eos, end)}},
		{"only the first record is a header block", []string{"header", "body", "fake", "body", "done", "eos", "end"}, [][]byte{cat(header, body), fake, body, cat(eos, end)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1), stopping: make(chan struct{})}
			s.slots <- struct{}{}
			w := &writesConn{}
			c := newConn(w, s)
			c.beginRequest(1) // as its BEGIN_REQUEST does
			closed := false
			for _, st := range tc.steps {
				switch st {
				case "header":
					c.Write(header)
				case "body":
					c.Write(body)
				case "big":
					c.Write(big)
				case "fake":
					c.Write(fake)
				case "done":
					c.handlerDone(1, c.tokenOf(1))
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

// stdoutWithin reads records from c for at most d, until done says the
// STDOUT seen so far is enough, and returns it.
func stdoutWithin(c net.Conn, br *bufio.Reader, d time.Duration, done func(string) bool) string {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, fcgi.MaxRecordSize)
	var out string
	for !done(out) {
		rec, err := fcgi.ReadRecord(br, buf)
		if err != nil {
			return out
		}
		if rec.Type == fcgi.TypeStdout {
			out += string(rec.Content)
		}
	}
	return out
}

// TestHeldOnlyFirstRecord: only an answer's first record can be its header
// block; body bytes that look like one ("Status: ...\r\n\r\n") and that a
// running handler flushes reach the web server at once.
func TestHeldOnlyFirstRecord(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "Status: 200 OK\r\n\r\n")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer close(release)
	c, br := dialRaw(t, ts.sock)
	c.Write(rawRequest(1, false, "/"))
	two := func(s string) bool { return strings.Count(s, "Status: 200 OK\r\n") == 2 }
	if out := stdoutWithin(c, br, 10*time.Second, two); !two(out) {
		t.Fatalf("the flushed body bytes did not come while the handler runs; got %q", out)
	}
}

// TestFlushSendsHeldHeader: a header block written by a Write of no bytes
// and flushed reaches the web server while the handler goes on.
func TestFlushSendsHeldHeader(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.Write(nil)
		w.(http.Flusher).Flush()
		<-release
	}))
	defer close(release)
	c, br := dialRaw(t, ts.sock)
	c.Write(rawRequest(1, false, "/"))
	header := func(s string) bool { return strings.Contains(s, "\r\n\r\n") }
	if out := stdoutWithin(c, br, 10*time.Second, header); !strings.HasPrefix(out, "Status: 202") {
		t.Fatalf("the flushed header did not come while the handler runs; got %q", out)
	}
}

// TestAbortedHandlerHoldsNothing: on a kept connection, a request aborted
// and answered at once whose handler returns later must not hold the
// answer of the next request, which reuses its id (nginx always sends 1).
func TestAbortedHandlerHoldsNothing(t *testing.T) {
	entered, release, returned := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	block := make(chan struct{})
	defer close(block)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			defer close(returned)
			entered <- struct{}{}
			<-release
			return
		}
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-block
	}))
	c, br := dialRaw(t, ts.sock)
	c.Write(rawRequest(1, true, "/slow"))
	<-entered
	c.Write(fcgi.AppendRecords(nil, fcgi.TypeAbortRequest, 1, nil))
	if _, _, err := readUntilEnd(t, c, br); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-returned
	c.Write(rawRequest(1, true, "/events"))
	event := func(s string) bool { return strings.Contains(s, "data: first") }
	if out := stdoutWithin(c, br, 10*time.Second, event); !event(out) {
		t.Fatalf("the next request's flushed event did not come; got %q", out)
	}
}
