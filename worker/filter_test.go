package worker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// rawRequest is a complete request for id as a web server sends it.
func rawRequest(id uint16, keep bool, uri string) []byte {
	b := fcgi.AppendBeginRequest(nil, id, fcgi.RoleResponder, keep)
	b = fcgi.AppendRecords(b, fcgi.TypeParams, id, fcgi.AppendPairs(nil, map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
	}))
	b = fcgi.AppendRecords(b, fcgi.TypeParams, id, nil)
	return fcgi.AppendRecords(b, fcgi.TypeStdin, id, nil)
}

// readUntilEnd reads records until END_REQUEST for id (or the end of the
// connection) and returns the STDOUT bytes and every record type seen.
func readUntilEnd(t *testing.T, c net.Conn, br *bufio.Reader) (stdout string, types []fcgi.RecordType, err error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, fcgi.MaxRecordSize)
	for {
		rec, err := fcgi.ReadRecord(br, buf)
		if err != nil {
			return stdout, types, err
		}
		types = append(types, rec.Type)
		switch rec.Type {
		case fcgi.TypeStdout:
			stdout += string(rec.Content)
		case fcgi.TypeEndRequest, fcgi.TypeUnknownType:
			return stdout, types, nil
		}
	}
}

func dialRaw(t *testing.T, sock string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestParamsLimit: params beyond MaxParamsBytes are answered 431 and the
// connection is closed; the worker then serves the next connection.
func TestParamsLimit(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, br := dialRaw(t, ts.sock)
	go func() {
		msg := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
		big := fcgi.AppendPair(nil, "HTTP_X", strings.Repeat("a", MaxParamsBytes))
		msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, big)
		c.Write(msg) // fails part-way once the worker closed: that is the point
	}()
	out, types, err := readUntilEnd(t, c, br)
	if err != nil {
		t.Fatalf("reading the answer: %v (records %v)", err, types)
	}
	if !strings.HasPrefix(out, "Status: 431 ") {
		t.Fatalf("answer %q, want a 431", out)
	}
	if _, err := fcgi.ReadRecord(br, nil); err == nil {
		t.Fatalf("connection still open after the refusal")
	}
	ts.expectServed(t, "/", "ok")
}

// TestParamsUnderLimit: params split over many records, just under the
// limit, are served.
func TestParamsUnderLimit(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", len(r.Header.Get("X-Big"))/1000))
	}))
	c, br := dialRaw(t, ts.sock)
	msg := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_X_BIG": strings.Repeat("b", MaxParamsBytes-200),
	}))
	msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, nil)
	msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, 1, nil)
	go c.Write(msg)
	out, _, err := readUntilEnd(t, c, br)
	if err != nil || !strings.Contains(out, "Status: 200") || !strings.HasSuffix(out, strings.Repeat("x", (MaxParamsBytes-200)/1000)) {
		t.Fatalf("answer %q, %v", out, err)
	}
}

// TestUnknownManagementType: a management record of an unknown type is
// answered FCGI_UNKNOWN_TYPE (FastCGI 1.0, section 4.2) and the connection
// goes on.
func TestUnknownManagementType(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, br := dialRaw(t, ts.sock)
	msg := fcgi.AppendRecords(nil, 42, 0, []byte("junk"))
	c.Write(msg)
	buf := make([]byte, fcgi.MaxRecordSize)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, err := fcgi.ReadRecord(br, buf)
	if err != nil || rec.Type != fcgi.TypeUnknownType || rec.RequestID != 0 || len(rec.Content) != 8 || rec.Content[0] != 42 {
		t.Fatalf("got %+v, %v; want UNKNOWN_TYPE for 42", rec, err)
	}
	c.Write(rawRequest(1, false, "/"))
	if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "ok") {
		t.Fatalf("request after it: %q, %v", out, err)
	}
}

// TestAbortCancelsContext: the handler's context is cancelled when the web
// server closes the connection or sends FCGI_ABORT_REQUEST, and the token
// that links them is not among the handler's params.
func TestAbortCancelsContext(t *testing.T) {
	causes := make(chan error, 1)
	started := make(chan map[string]string, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/quick" {
			io.WriteString(w, "ok")
			return
		}
		started <- stdfcgi.ProcessEnv(r)
		select {
		case <-r.Context().Done():
			causes <- context.Cause(r.Context())
		case <-time.After(20 * time.Second):
			causes <- errors.New("not cancelled")
		}
	}))
	for _, tc := range []struct {
		name string
		end  func(c net.Conn)
		want error
	}{
		{"close", func(c net.Conn) { c.Close() }, ErrConnClosed},
		{"abort", func(c net.Conn) { c.Write(fcgi.AppendRecords(nil, fcgi.TypeAbortRequest, 1, nil)) }, stdfcgi.ErrRequestAborted},
	} {
		c, _ := dialRaw(t, ts.sock)
		c.Write(rawRequest(1, true, "/wait"))
		env := <-started
		if _, ok := env[abortParam]; ok {
			t.Errorf("%s: the handler sees %s", tc.name, abortParam)
		}
		tc.end(c)
		if got := <-causes; !errors.Is(got, tc.want) {
			t.Errorf("%s: cause %v, want %v", tc.name, got, tc.want)
		}
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if r := ts.get(ctx, "/quick"); r.err != nil || r.code != 200 {
			t.Errorf("%s: next request: %+v", tc.name, r)
		}
		cancel()
	}
}

// TestParamsLimitEmptyRecords: the limit holds per request however its
// params are split: empty PARAMS records between the others do not reset
// the count (net/http/fcgi keeps what it parsed at each one and takes more).
func TestParamsLimitEmptyRecords(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, br := dialRaw(t, ts.sock)
	go func() {
		msg := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
		chunk := fcgi.AppendPair(nil, "HTTP_X", strings.Repeat("a", 60<<10))
		for range MaxParamsBytes/len(chunk) + 2 {
			msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, chunk)
			for range 50 {
				msg = fcgi.AppendRecords(msg, fcgi.TypeParams, 1, nil)
			}
		}
		msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, 1, nil)
		c.Write(msg) // fails part-way once the worker closed
	}()
	out, types, err := readUntilEnd(t, c, br)
	if err != nil {
		t.Fatalf("reading the answer: %v (records %v)", err, types)
	}
	if !strings.HasPrefix(out, "Status: 431 ") {
		t.Fatalf("answer %q, want a 431", out)
	}
}

// TestParamsLimitPerRequest: on a kept connection, each request has its
// own count: many requests whose params add up to more than the limit are
// all served.
func TestParamsLimitPerRequest(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c, br := dialRaw(t, ts.sock)
	big := strings.Repeat("b", MaxParamsBytes/3)
	for i := range 5 {
		id := uint16(i + 1)
		msg := fcgi.AppendBeginRequest(nil, id, fcgi.RoleResponder, true)
		msg = fcgi.AppendRecords(msg, fcgi.TypeParams, id, fcgi.AppendPairs(nil, map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_X_BIG": big,
		}))
		msg = fcgi.AppendRecords(msg, fcgi.TypeParams, id, nil)
		msg = fcgi.AppendRecords(msg, fcgi.TypeStdin, id, nil)
		go c.Write(msg)
		if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "ok") {
			t.Fatalf("request %d: %q, %v", id, out, err)
		}
	}
}

// TestGetValues: FCGI_GET_VALUES is answered by the worker with its
// concurrency, for the names asked, and the connection goes on.
func TestGetValues(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), WithConcurrency(3))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := ts.client.GetValues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{fcgi.MaxConns: "3", fcgi.MaxReqs: "3", fcgi.MpxsConns: "0"}
	if len(got) != len(want) || got[fcgi.MaxConns] != "3" || got[fcgi.MaxReqs] != "3" || got[fcgi.MpxsConns] != "0" {
		t.Fatalf("GET_VALUES: %v, want %v", got, want)
	}
	if got, err := ts.client.GetValues(ctx, fcgi.MpxsConns, "OTHER"); err != nil || len(got) != 1 || got[fcgi.MpxsConns] != "0" {
		t.Fatalf("GET_VALUES of one name: %v, %v", got, err)
	}
	c, br := dialRaw(t, ts.sock)
	c.Write(fcgi.AppendRecords(nil, fcgi.TypeGetValues, 0, fcgi.AppendPair(nil, fcgi.MaxConns, "")))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rec, err := fcgi.ReadRecord(br, nil); err != nil || rec.Type != fcgi.TypeGetValuesResult {
		t.Fatalf("got %+v, %v", rec, err)
	}
	c.Write(rawRequest(1, false, "/"))
	if out, _, err := readUntilEnd(t, c, br); err != nil || !strings.HasSuffix(out, "ok") {
		t.Fatalf("request after it: %q, %v", out, err)
	}
}
