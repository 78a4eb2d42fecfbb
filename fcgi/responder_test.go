package fcgi

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// startResponder serves r on a Unix socket and returns a client for it.
func startResponder(t testing.TB, r *Responder) *Client {
	ln := listen(t)
	go func() {
		for c, err := ln.Accept(); err == nil; c, err = ln.Accept() {
			go serveAll(r, c)
		}
	}()
	return &Client{Network: "unix", Address: ln.Addr().String()}
}

// serveAll serves c with r until it ends, and closes it.
func serveAll(r *Responder, c net.Conn) {
	defer c.Close()
	for r.ServeConn(c) == nil {
	}
}

func echoResponder() *Responder {
	return &Responder{
		MaxParams: 1 << 10, MaxStdin: 1 << 10, Timeout: 10 * time.Second,
		Values: map[string]string{MpxsConns: "0"},
		Answer: func(p map[string]string) []byte {
			return []byte("Content-Type: text/plain\r\n\r\n" + p["REQUEST_URI"])
		},
	}
}

// TestResponder: requests are answered from their params, on new and kept
// connections, and GET_VALUES from Values.
func TestResponder(t *testing.T) {
	c := startResponder(t, echoResponder())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, idle := range []int{0, 1} {
		c.MaxIdleConns = idle
		for _, uri := range []string{"/a", "/b"} {
			resp, err := c.Do(ctx, &Request{Params: map[string]string{"REQUEST_URI": uri}, Body: nil})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != uri {
				t.Fatalf("keep %d: %d %q %v, want 200 %q", idle, resp.StatusCode, b, err, uri)
			}
		}
	}
	if v, err := c.GetValues(ctx); err != nil || len(v) != 1 || v[MpxsConns] != "0" {
		t.Fatalf("GET_VALUES: %v, %v", v, err)
	}
}

// TestResponderRefusals: a second BEGIN_REQUEST is refused with
// CANT_MPX_CONN, another role with UNKNOWN_ROLE, an unknown management
// type with UNKNOWN_TYPE, and params beyond MaxParams end the connection.
func TestResponderRefusals(t *testing.T) {
	r := echoResponder()
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- r.ServeConn(b) }()
	br := bufio.NewReader(a)
	a.SetDeadline(time.Now().Add(10 * time.Second))
	expect := func(what string, typ RecordType, check func(Record) bool) {
		t.Helper()
		rec, err := ReadRecord(br, nil)
		if err != nil || rec.Type != typ || !check(rec) {
			t.Fatalf("%s: got %+v, %v", what, rec, err)
		}
	}
	status := func(want ProtocolStatus) func(Record) bool {
		return func(rec Record) bool { _, st, err := ParseEndRequest(rec.Content); return err == nil && st == want }
	}
	go a.Write(AppendBeginRequest(nil, 1, RoleAuthorizer, true))
	expect("authorizer", TypeEndRequest, status(StatusUnknownRole))
	go a.Write(AppendRecords(nil, 42, 0, nil))
	expect("type 42", TypeUnknownType, func(rec Record) bool { return rec.Content[0] == 42 })
	go a.Write(append(AppendBeginRequest(nil, 1, RoleResponder, true), AppendBeginRequest(nil, 2, RoleResponder, true)...))
	expect("second request", TypeEndRequest, status(StatusCantMultiplex))
	go a.Write(AppendRecords(nil, TypeParams, 1, make([]byte, 2<<10)))
	expect("params too large", TypeStderr, func(Record) bool { return true })
	expect("params too large", TypeEndRequest, status(StatusRequestComplete))
	if err := <-done; err == nil {
		t.Fatal("ServeConn returned nil after params beyond the limit")
	}
}

// TestResponderParamsLimitEmptyRecords: MaxParams holds per request
// however its params are split: empty PARAMS records between the others
// do not reset the count.
func TestResponderParamsLimitEmptyRecords(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	errc := make(chan error, 1)
	go func() { errc <- echoResponder().ServeConn(server); server.Close() }()
	go func() {
		msg := AppendBeginRequest(nil, 1, RoleResponder, false)
		pair := AppendPair(nil, "HTTP_X", string(make([]byte, 300)))
		for range 5 { // 5 × 300 bytes against MaxParams 1 KiB
			msg = AppendRecords(msg, TypeParams, 1, pair)
			for range 10 {
				msg = AppendRecords(msg, TypeParams, 1, nil)
			}
		}
		msg = AppendRecords(msg, TypeStdin, 1, nil)
		client.Write(msg) // cut short once the responder gives up
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(client)
	var types []RecordType
	for {
		rec, err := ReadRecord(br, nil)
		if err != nil {
			break
		}
		types = append(types, rec.Type)
		if rec.Type == TypeStdout && len(rec.Content) > 0 {
			t.Fatalf("answered although the params were over MaxParams: %q", rec.Content)
		}
	}
	if err := <-errc; err == nil || len(types) < 2 || types[0] != TypeStderr || types[len(types)-1] != TypeEndRequest {
		t.Fatalf("records %v, ServeConn %v: want STDERR, END_REQUEST and an error", types, err)
	}
}
