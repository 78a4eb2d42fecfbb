package worker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// withServer hands the test the worker's server once Serve made it.
func withServer(p **server) Option { return func(s *server) { *p = s } }

// sessionCount is how many sessions net/http/fcgi was given.
func sessionCount(s *server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// expectClosed fails unless the worker closes c without sending more.
func expectClosed(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, err := fcgi.ReadRecord(br, nil)
	if err == nil {
		t.Fatalf("connection still open: got a %v record for id %d", rec.Type, rec.RequestID)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the worker did not close the connection")
	}
}

// TestSessionOneShot: requests without FCGI_KEEP_CONN (nginx's default) get
// their answer and then the end of their connection from the worker, one
// connection after another, all over the one session of the slot.
func TestSessionOneShot(t *testing.T) {
	var s *server
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi "+r.URL.Path) }), withServer(&s))
	for i, id := range []uint16{1, 1, 7, 1} {
		c, br := dialRaw(t, ts.sock)
		c.Write(rawRequest(id, false, "/x"))
		out, types, err := readUntilEnd(t, c, br)
		if err != nil || !strings.HasSuffix(out, "hi /x") || types[len(types)-1] != fcgi.TypeEndRequest {
			t.Fatalf("request %d: %q %v, %v", i, out, types, err)
		}
		expectClosed(t, c, br)
	}
	if n := sessionCount(s); n != 1 {
		t.Errorf("%d sessions for a worker of concurrency 1, want 1", n)
	}
}

// TestSessionKeepConn: on a kept connection the worker answers request
// after request and leaves the connection open, the web server's id
// coming back on every record.
func TestSessionKeepConn(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi "+r.URL.Path) }))
	c, br := dialRaw(t, ts.sock)
	buf := make([]byte, fcgi.MaxRecordSize)
	for i, id := range []uint16{1, 1, 300, 1} {
		c.Write(rawRequest(id, true, "/k"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var out string
		for {
			rec, err := fcgi.ReadRecord(br, buf)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if rec.RequestID != id {
				t.Fatalf("request %d: a %v record for id %d, want %d", i, rec.Type, rec.RequestID, id)
			}
			if rec.Type == fcgi.TypeStdout {
				out += string(rec.Content)
			}
			if rec.Type == fcgi.TypeEndRequest {
				break
			}
		}
		if !strings.HasSuffix(out, "hi /k") {
			t.Fatalf("request %d: %q", i, out)
		}
	}
}

// TestSessionAbortedHandlerHoldsSlot: when the web server closes the
// connection of a request whose handler goes on (it ignores its context),
// the worker stays busy with it: the next connection is served only when
// that handler has returned, and nothing it writes reaches the next one.
func TestSessionAbortedHandlerHoldsSlot(t *testing.T) {
	entered := make(chan string, 4)
	cancelled := make(chan struct{}, 1)
	release := make(chan struct{})
	var s *server
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- r.URL.Path
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			cancelled <- struct{}{}
			<-release // goes on regardless, as a script that ignores its client would
			io.WriteString(w, "LEAK from /slow")
			w.(http.Flusher).Flush()
			return
		}
		io.WriteString(w, "fast")
	}), withServer(&s))
	c1, _ := dialRaw(t, ts.sock)
	c1.Write(rawRequest(1, false, "/slow"))
	if p := <-entered; p != "/slow" {
		t.Fatalf("entered %s", p)
	}
	c1.Close()
	<-cancelled
	s.mu.Lock()
	busy := s.busy
	s.mu.Unlock()
	if busy != 1 {
		t.Errorf("busy %d while the aborted handler runs, want 1", busy)
	}
	c2, br2 := dialRaw(t, ts.sock)
	c2.Write(rawRequest(1, false, "/fast"))
	// An observation window, not a synchronisation: the next request must
	// not start while the only slot's handler still runs.
	select {
	case p := <-entered:
		t.Fatalf("%s started while the aborted handler held the worker's only slot", p)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if p := <-entered; p != "/fast" {
		t.Fatalf("entered %s", p)
	}
	out, _, err := readUntilEnd(t, c2, br2)
	if err != nil || !strings.HasSuffix(out, "fast") || strings.Contains(out, "LEAK") {
		t.Fatalf("next connection got %q, %v", out, err)
	}
	expectClosed(t, c2, br2)
}

// TestSessionWriteAfterReturn: a handler that writes after it returned (a
// goroutine it left behind) reaches nobody, however the next request
// comes: on the same kept connection with the same id, or on a new one.
func TestSessionWriteAfterReturn(t *testing.T) {
	for _, keep := range []bool{true, false} {
		leak := make(chan struct{})
		leaked := make(chan struct{})
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/first":
				io.WriteString(w, "first")
				go func() {
					<-leak
					io.WriteString(w, "LEAK")
					w.(http.Flusher).Flush()
					close(leaked)
				}()
			case "/second":
				close(leak)
				<-leaked
				io.WriteString(w, "second")
			}
		}))
		c, br := dialRaw(t, ts.sock)
		c.Write(rawRequest(1, keep, "/first"))
		if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "first") {
			t.Fatalf("keep=%v: first: %q, %v", keep, out, err)
		}
		if !keep {
			c, br = dialRaw(t, ts.sock)
		}
		c.Write(rawRequest(1, keep, "/second"))
		out, _, err := readUntilEnd(t, c, br)
		if err != nil || !strings.HasSuffix(out, "second") || strings.Contains(out, "LEAK") {
			t.Fatalf("keep=%v: second: %q, %v", keep, out, err)
		}
	}
}

// TestSessionAbortThenReuseID: FCGI_ABORT_REQUEST on a kept connection is
// answered with one END_REQUEST at once; the web server may then reuse the
// id while the aborted handler still runs, and gets only the new answer.
func TestSessionAbortThenReuseID(t *testing.T) {
	release := make(chan struct{})
	returned := make(chan struct{})
	entered := make(chan struct{}, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
			io.WriteString(w, "LEAK")
			w.(http.Flusher).Flush()
			close(returned)
			return
		}
		io.WriteString(w, "new")
	}))
	c, br := dialRaw(t, ts.sock)
	c.Write(rawRequest(1, true, "/slow"))
	<-entered
	c.Write(fcgi.AppendRecords(nil, fcgi.TypeAbortRequest, 1, nil))
	if out, types, err := readUntilEnd(t, c, br); err != nil || out != "" || len(types) != 1 {
		t.Fatalf("answer to the abort: %q %v, %v; want one END_REQUEST", out, types, err)
	}
	c.Write(rawRequest(1, true, "/new"))
	if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "new") {
		t.Fatalf("the reused id: %q, %v", out, err)
	}
	close(release)
	<-returned
	c.Write(rawRequest(1, true, "/again"))
	if out, types, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "new") || strings.Contains(out, "LEAK") {
		t.Fatalf("after the aborted handler returned: %q %v, %v", out, types, err)
	}
}

// TestSessionHalfBegun: a connection that ends inside a request's PARAMS,
// or that sends a second BEGIN_REQUEST for an id in flight, or a malformed
// BEGIN_REQUEST, loses only itself: the next connection, with the same id,
// is served.
func TestSessionHalfBegun(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	begin := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, true)
	half := fcgi.AppendRecords(begin, fcgi.TypeParams, 1, fcgi.AppendPair(nil, "REQUEST_METHOD", "GET"))
	for _, tc := range []struct {
		name   string
		stream []byte
		closes bool // the worker ends the connection itself
	}{
		{"ended in params", half, false},
		{"begun twice", append(append([]byte(nil), half...), begin...), true},
		{"short begin", fcgi.AppendRecords(nil, fcgi.TypeBeginRequest, 1, []byte{0, 1, 1}), true},
	} {
		c, br := dialRaw(t, ts.sock)
		c.Write(tc.stream)
		if tc.closes {
			expectClosed(t, c, br)
		}
		c.Close()
		t.Run(tc.name, func(t *testing.T) { ts.expectServed(t, "/", "ok") })
	}
}

// TestSessionUnknownRole: a BEGIN_REQUEST for a role other than responder
// is answered FCGI_UNKNOWN_ROLE, and the kept connection goes on.
func TestSessionUnknownRole(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, br := dialRaw(t, ts.sock)
	msg := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleAuthorizer, true)
	msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, nil)
	msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, 1, nil)
	c.Write(msg)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, err := fcgi.ReadRecord(br, nil)
	if err != nil || rec.Type != fcgi.TypeEndRequest || rec.RequestID != 1 {
		t.Fatalf("got %+v, %v; want END_REQUEST", rec, err)
	}
	if _, st, _ := fcgi.ParseEndRequest(rec.Content); st != fcgi.StatusUnknownRole {
		t.Fatalf("status %d, want FCGI_UNKNOWN_ROLE", st)
	}
	c.Write(rawRequest(1, true, "/"))
	if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "ok") {
		t.Fatalf("request after it: %q, %v", out, err)
	}
}

// TestSessionEarlyAnswer: a handler that answers without reading its body
// gets its answer out at once; the connection closes once the web server
// has sent the rest of the body, and the next connection is served.
func TestSessionEarlyAnswer(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "early") }))
	c, br := dialRaw(t, ts.sock)
	msg := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, map[string]string{
		"REQUEST_METHOD": "POST", "REQUEST_URI": "/up", "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": "300000",
	}))
	msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, nil)
	msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, 1, []byte(strings.Repeat("a", 1000)))
	c.Write(msg)
	if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "early") {
		t.Fatalf("answer: %q, %v", out, err)
	}
	rest := fcgi.AppendRecords(nil, fcgi.TypeStdin, 1, []byte(strings.Repeat("b", 299000)))
	rest = fcgi.AppendRecords(rest, fcgi.TypeStdin, 1, nil)
	if _, err := c.Write(rest); err != nil {
		t.Fatalf("the rest of the body: %v", err)
	}
	expectClosed(t, c, br)
	ts.expectServed(t, "/", "early")
}

// TestSessionMultiplexed: two requests interleaved on one kept connection
// are both answered, each under its own id.
func TestSessionMultiplexed(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "at "+r.URL.Path) }))
	c, br := dialRaw(t, ts.sock)
	var msg []byte
	for _, id := range []uint16{1, 2} {
		msg = fcgi.AppendBeginRequest(msg, id, fcgi.RoleResponder, true)
	}
	for _, id := range []uint16{2, 1} {
		msg = fcgi.AppendRecords(msg, fcgi.TypeParams, id, fcgi.AppendPairs(nil, map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": "/" + string(rune('0'+id)), "SERVER_PROTOCOL": "HTTP/1.1",
		}))
		msg = fcgi.AppendRecords(msg, fcgi.TypeParams, id, nil)
		msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, id, nil)
	}
	c.Write(msg)
	got := map[uint16]string{}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for ends := 0; ends < 2; {
		rec, err := fcgi.ReadRecord(br, nil)
		if err != nil {
			t.Fatalf("%v after %v", err, got)
		}
		switch rec.Type {
		case fcgi.TypeStdout:
			got[rec.RequestID] += string(rec.Content)
		case fcgi.TypeEndRequest:
			ends++
		}
	}
	if !strings.HasSuffix(got[1], "at /1") || !strings.HasSuffix(got[2], "at /2") {
		t.Fatalf("answers %v", got)
	}
}

// FuzzSession: whatever a web server sends on a connection, the worker
// ends it once the web server has stopped sending, and serves the next
// connection.
func FuzzSession(f *testing.F) {
	f.Add(rawRequest(1, false, "/"))
	f.Add(append(rawRequest(1, true, "/a"), rawRequest(1, true, "/b")...))
	f.Add(append(rawRequest(1, true, "/a"), fcgi.AppendRecords(nil, fcgi.TypeAbortRequest, 1, nil)...))
	f.Add(fcgi.AppendRecords(fcgi.AppendBeginRequest(nil, 1, fcgi.RoleFilter, true), fcgi.TypeStdin, 1, []byte("x")))
	f.Add(fcgi.AppendRecords(fcgi.AppendBeginRequest(nil, 2, fcgi.RoleResponder, false), fcgi.TypeStdin, 2, []byte("body")))
	ts := startServer(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	f.Fuzz(func(t *testing.T, stream []byte) {
		c, err := net.Dial("unix", ts.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(stream)
			c.(*net.UnixConn).CloseWrite()
		}()
		// The end may be a reset: a connection closed on a protocol
		// error with bytes unread.
		var ne net.Error
		if _, err := io.Copy(io.Discard, c); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the worker did not end the connection: %v", err)
		}
		ts.expectServed(t, "/", "ok")
	})
}

// TestEmptyBodyNotShared: a request without a body gets http.NoBody, not
// net/http/fcgi's one reader shared by every such request, which io.Copy
// writes to (two handlers copying theirs raced: found by FuzzSession under
// the race detector).
func TestEmptyBodyNotShared(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Body == http.NoBody {
			io.WriteString(w, "nobody")
		}
	}))
	ts.expectServed(t, "/", "nobody") // answered "nobody" only when the body is http.NoBody
}
