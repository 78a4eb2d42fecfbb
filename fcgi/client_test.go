package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, network, address string
		ok                   bool
	}{
		{"unix:/run/php/php-fpm.sock", "unix", "/run/php/php-fpm.sock", true},
		{"unix:relative.sock", "unix", "relative.sock", true},
		{"/run/php.sock", "unix", "/run/php.sock", true},
		{"127.0.0.1:9000", "tcp", "127.0.0.1:9000", true},
		{"localhost:9000", "tcp", "localhost:9000", true},
		{"[::1]:9000", "tcp", "[::1]:9000", true},
		{"9000", "tcp", "127.0.0.1:9000", true},
		{":9000", "tcp", "127.0.0.1:9000", true},
		{"*:9000", "tcp", "127.0.0.1:9000", true},
		{"", "", "", false},
		{"unix:", "", "", false},
		{"relative.sock", "", "", false},
		{"host:", "", "", false},
		{"host:http", "", "", false},
		{"host:0", "", "", false},
		{"host:65536", "", "", false},
		{"::1:9000", "", "", false},
	}
	for _, tt := range tests {
		network, address, err := ParseAddress(tt.in)
		if (err == nil) != tt.ok || network != tt.network || address != tt.address {
			t.Errorf("ParseAddress(%q) = %q, %q, %v", tt.in, network, address, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fcgi: ") {
			t.Errorf("ParseAddress(%q) error %q lacks the fcgi: prefix", tt.in, err)
		}
	}
}

// do sends an HTTP-like request built by httptest through c.
func do(t testing.TB, c *Client, method, target string, body []byte) (*Response, error) {
	t.Helper()
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, bytes.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	params, err := EnvFromRequest(r, EnvOptions{DocumentRoot: "/srv", ServerSoftware: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Params: params, ContentLength: int64(len(body))}
	if body != nil {
		req.Body = bytes.NewReader(body)
	}
	var resp *Response
	within(t, "Do", func() { resp, err = c.Do(context.Background(), req) })
	return resp, err
}

func stdHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Query", r.URL.RawQuery)
		w.Header().Set("X-Test", r.Header.Get("X-Test"))
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	case "/status":
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "teapot")
	case "/redirect":
		http.Redirect(w, r, "/there", http.StatusMovedPermanently)
	case "/empty":
	case "/sum":
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	default:
		http.NotFound(w, r)
	}
}

// TestClientStd runs requests against the standard library's FastCGI server.
func TestClientStd(t *testing.T) {
	c, _ := startStd(t, http.HandlerFunc(stdHandler))
	tests := []struct {
		name, method, target string
		body                 string
		status               int
		header               http.Header
		want                 string
	}{
		{"get with query", "GET", "/echo?a=1&b=2", "", 200,
			http.Header{"X-Method": {"GET"}, "X-Query": {"a=1&b=2"}, "Content-Type": {"text/plain"}},
			"GET /echo?a=1&b=2 "},
		{"post with body", "POST", "/echo", "hello body", 200,
			http.Header{"X-Method": {"POST"}}, "POST /echo hello body"},
		{"status and repeated header", "GET", "/status", "", 418,
			http.Header{"X-Multi": {"1", "2"}}, "teapot"},
		{"redirect", "GET", "/redirect", "", 301,
			http.Header{"Location": {"/there"}}, ""},
		{"not found", "GET", "/nope", "", 404, nil, "404 page not found\n"},
		{"empty response", "GET", "/empty", "", 200, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			resp, err := do(t, c, tt.method, tt.target, body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := readAll(t, resp.Body)
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			for k, want := range tt.header {
				if !equalStrings(resp.Header[k], want) {
					t.Errorf("header %s = %q, want %q", k, resp.Header[k], want)
				}
			}
			if _, ok := resp.Header["Status"]; ok {
				t.Error("Status left in Header")
			}
			if tt.method != "POST" && !strings.Contains(tt.target, "redirect") && string(got) != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
			if tt.method == "POST" && !strings.HasPrefix(string(got), tt.want) {
				t.Errorf("body %q, want %q", got, tt.want)
			}
			if resp.AppStatus() != 0 || len(resp.Stderr()) != 0 {
				t.Errorf("app status %d, stderr %q", resp.AppStatus(), resp.Stderr())
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestClientStreaming proves that the body is delivered as the application
// flushes it: the handler writes chunk i+1 only after the test has read
// chunk i, so a client that buffered the response would deadlock.
func TestClientStreaming(t *testing.T) {
	next := make(chan struct{})
	t.Cleanup(func() { close(next) })
	c, _ := startStd(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			if _, ok := <-next; !ok {
				return
			}
		}
	}))
	resp, err := do(t, c, "GET", "/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	for i := range 3 {
		want := fmt.Sprintf("data: %d\n\n", i)
		got := make([]byte, len(want))
		var err error
		within(t, fmt.Sprintf("reading event %d", i), func() { _, err = io.ReadFull(resp.Body, got) })
		if err != nil || string(got) != want {
			t.Fatalf("event %d: %q, %v", i, got, err)
		}
		select {
		case next <- struct{}{}:
		case <-time.After(waitTimeout):
			t.Fatal("handler did not wait for the next step")
		}
	}
	if rest, err := readAll(t, resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after the events: %q, %v", rest, err)
	}
}

func TestClientLargeBody(t *testing.T) {
	c, _ := startStd(t, http.HandlerFunc(stdHandler))
	for _, n := range []int{65535, 65536, 1 << 20, 3<<20 + 7} {
		for _, unknown := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d unknown=%v", n, unknown), func(t *testing.T) {
				body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
				sum := sha256.Sum256(body)
				want := fmt.Sprintf("%d %s", n, hex.EncodeToString(sum[:]))
				params, _ := EnvFromRequest(httptest.NewRequest("POST", "/sum", nil), EnvOptions{})
				req := &Request{Params: params, Body: bytes.NewReader(body), ContentLength: int64(n)}
				if unknown {
					req.ContentLength = -1
				}
				resp, err := c.Do(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				got, err := readAll(t, resp.Body)
				if err != nil || string(got) != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
				}
			})
		}
	}
}

// TestClientBodyStreamed proves the request body is streamed: the response
// headers arrive while the second half of the body has not been produced yet.
func TestClientBodyStreamed(t *testing.T) {
	c, _ := startStd(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 100)
		io.ReadFull(r.Body, first)
		w.Header().Set("X-First", string(first[:5]))
		// net/http/fcgi sends its header block with the first body byte.
		io.WriteString(w, "<")
		w.(http.Flusher).Flush()
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n+100)
	}))
	const half = 200000
	pr, pw := io.Pipe()
	release := make(chan struct{})
	go func() {
		pw.Write(bytes.Repeat([]byte("a"), half))
		<-release
		pw.Write(bytes.Repeat([]byte("b"), half))
		pw.Close()
	}()
	t.Cleanup(func() { pr.CloseWithError(errors.New("test over")) })
	req := &Request{Params: map[string]string{"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/"},
		Body: pr, ContentLength: 2 * half}
	var resp *Response
	var err error
	within(t, "Do with half a body", func() { resp, err = c.Do(context.Background(), req) })
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-First"); got != "aaaaa" {
		t.Errorf("X-First %q", got)
	}
	got, err := readAll(t, resp.Body)
	if err != nil || string(got) != fmt.Sprint("<", 2*half) {
		t.Errorf("body %q, %v", got, err)
	}
}

func TestClientBodyErrors(t *testing.T) {
	c, _ := startStd(t, http.HandlerFunc(stdHandler))
	params := map[string]string{"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/sum"}

	c.MaxBufferedBody = 1000
	_, err := c.Do(context.Background(), &Request{Params: params, Body: bytes.NewReader(make([]byte, 1001)), ContentLength: -1})
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("unknown length over the limit: %v", err)
	}
	resp, err := c.Do(context.Background(), &Request{Params: params, Body: bytes.NewReader(make([]byte, 1000)), ContentLength: -1})
	if err != nil {
		t.Fatalf("unknown length at the limit: %v", err)
	}
	readAll(t, resp.Body)
	resp.Body.Close()

	// Shorter than announced: php-fpm would wait forever; we must fail.
	for _, n := range []int{10, 100000} {
		var err error
		within(t, "Do with a short body", func() {
			var resp *Response
			resp, err = c.Do(context.Background(), &Request{Params: params, Body: bytes.NewReader(make([]byte, n/2)), ContentLength: int64(n)})
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("short body of %d: %v", n, err)
		}
	}
	if _, err := c.Do(context.Background(), &Request{Params: params, ContentLength: 5}); err == nil {
		t.Error("ContentLength 5 with a nil Body accepted")
	}
}

// TestClientKeepConn counts the connections the server accepts.
func TestClientKeepConn(t *testing.T) {
	for _, idle := range []int{0, 2} {
		t.Run(fmt.Sprintf("MaxIdleConns=%d", idle), func(t *testing.T) {
			c, ln := startStd(t, http.HandlerFunc(stdHandler))
			c.MaxIdleConns = idle
			for i := range 5 {
				resp, err := do(t, c, "GET", fmt.Sprintf("/echo?i=%d", i), nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != fmt.Sprintf("GET /echo?i=%d ", i) {
					t.Fatalf("request %d: %q, %v", i, got, err)
				}
			}
			want := int64(5)
			if idle > 0 {
				want = 1
			}
			if got := ln.accepted.Load(); got != want {
				t.Errorf("%d connections accepted, want %d", got, want)
			}
			// A body closed before EOF must not go back to the pool.
			resp, err := do(t, c, "GET", "/echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
				t.Error("Read after Close succeeded")
			}
			if err := resp.Body.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			resp, err = do(t, c, "GET", "/echo", nil)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp.Body)
			resp.Body.Close()
			if got := ln.accepted.Load(); got != want+2 && idle == 0 || got != want+1 && idle > 0 {
				t.Errorf("%d connections accepted after an early Close", got)
			}
		})
	}
}

// TestClientIdleConnClosedByServer: php-fpm closes a kept connection after
// pm.max_requests; the next request must not fail because of it.
func TestClientIdleConnClosedByServer(t *testing.T) {
	c, ln := startRaw(t, func(conn *rawConn) {
		req, err := conn.readRequest()
		if err != nil {
			return
		}
		conn.respond(req.id, "Content-Type: text/plain\r\n\r\nok")
		// Close although keep-conn was asked for.
	})
	c.MaxIdleConns = 1
	for i := range 3 {
		resp, err := do(t, c, "GET", "/", nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got, err := readAll(t, resp.Body); err != nil || string(got) != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		resp.Body.Close()
	}
	if got := ln.accepted.Load(); got != 3 {
		t.Errorf("%d connections, want 3", got)
	}
}

func TestClientCancel(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c, _ := startStd(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mid" {
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
		}
		<-release
	}))
	params := func(path string) map[string]string {
		p, _ := EnvFromRequest(httptest.NewRequest("GET", path, nil), EnvOptions{})
		return p
	}

	t.Run("mid-response", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := c.Do(ctx, &Request{Params: params("/mid")})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 5)
		within(t, "first read", func() { _, err = io.ReadFull(resp.Body, buf) })
		if err != nil || string(buf) != "first" {
			t.Fatalf("%q, %v", buf, err)
		}
		cancel()
		within(t, "read after cancel", func() { _, err = resp.Body.Read(buf) })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v", err)
		}
	})
	t.Run("before headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Do(ctx, &Request{Params: params("/wait")})
			errc <- err
		}()
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Do: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Do did not return after cancel")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var err error
		within(t, "Do with a deadline", func() { _, err = c.Do(ctx, &Request{Params: params("/wait")}) })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do: %v", err)
		}
	})
}

// TestClientSendsAbort checks that a cancelled request sends ABORT_REQUEST.
func TestClientSendsAbort(t *testing.T) {
	got := make(chan RecordType, 1)
	c, _ := startRaw(t, func(conn *rawConn) {
		req, err := conn.readRequest()
		if err != nil {
			return
		}
		conn.send(TypeStdout, req.id, "Content-Type: text/plain\r\n\r\npartial")
		rec, err := ReadRecord(conn, conn.buf)
		if err == nil {
			got <- rec.Type
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := c.Do(ctx, &Request{Params: map[string]string{"REQUEST_METHOD": "GET"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	wantAbort(t, got)
}

// wantAbort waits for the record type the server read after the request
// and fails unless it is ABORT_REQUEST.
func wantAbort(t *testing.T, got <-chan RecordType) {
	t.Helper()
	select {
	case typ := <-got:
		if typ != TypeAbortRequest {
			t.Errorf("server read %v, want ABORT_REQUEST", typ)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no ABORT_REQUEST")
	}
}

// TestClientRequestEncoding checks what a FastCGI server receives.
func TestClientRequestEncoding(t *testing.T) {
	reqs := make(chan *rawRequest, 4)
	c, _ := startRaw(t, func(conn *rawConn) {
		for {
			req, err := conn.readRequest()
			if err != nil {
				return
			}
			reqs <- req
			conn.respond(req.id, "\r\n")
			if !req.keep {
				return
			}
		}
	})
	c.MaxIdleConns = 1
	params := map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "999", "LONG": strings.Repeat("v", 70000)}
	orig := maps.Clone(params)
	for _, body := range []string{"", "hello"} {
		resp, err := c.Do(context.Background(), &Request{Params: params, Body: strings.NewReader(body), ContentLength: int64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp.Body)
		resp.Body.Close()
		var req *rawRequest
		select {
		case req = <-reqs:
		case <-time.After(waitTimeout):
			t.Fatal("no request")
		}
		if req.id == 0 || req.role != RoleResponder || !req.keep {
			t.Errorf("id %d role %d keep %v", req.id, req.role, req.keep)
		}
		wantCL := ""
		if body != "" {
			wantCL = "5"
		}
		if req.params["CONTENT_LENGTH"] != wantCL || string(req.stdin) != body || req.params["LONG"] != params["LONG"] {
			t.Errorf("CONTENT_LENGTH %q stdin %q", req.params["CONTENT_LENGTH"], req.stdin)
		}
	}
	if !maps.Equal(params, orig) {
		t.Error("Do modified req.Params")
	}
}

// TestClientRaw covers responses the standard library cannot produce.
func TestClientRaw(t *testing.T) {
	const hdr = "Content-Type: text/plain\r\n\r\n"
	tests := []struct {
		name      string
		serve     func(c *rawConn, id uint16)
		doErr     error // from Do
		bodyErr   error // from reading the body
		status    int
		body      string
		stderr    string
		appStatus int
	}{
		{
			name: "stderr and app status",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStderr, id, "PHP Warning: one\n")
				c.send(TypeStdout, id, "Status: 500 Internal Server Error\r\n"+hdr+"oops")
				c.send(TypeStderr, id, "two")
				c.send(TypeStderr, id, "")
				c.send(TypeStdout, id, "")
				c.end(id, 3, StatusRequestComplete)
			},
			status: 500, body: "oops", stderr: "PHP Warning: one\ntwo", appStatus: 3,
		},
		{
			name: "stderr capped at 64 KiB",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStderr, id, strings.Repeat("e", 100000))
				c.respond(id, hdr+"x")
			},
			status: 200, body: "x", stderr: strings.Repeat("e", maxStderr),
		},
		{
			name:  "overloaded",
			serve: func(c *rawConn, id uint16) { c.end(id, 0, StatusOverloaded) },
			doErr: ErrOverloaded,
		},
		{
			name:  "unknown role",
			serve: func(c *rawConn, id uint16) { c.end(id, 0, StatusUnknownRole) },
			doErr: ErrUnknownRole,
		},
		{
			name:  "cannot multiplex",
			serve: func(c *rawConn, id uint16) { c.end(id, 0, StatusCantMultiplex) },
			doErr: ErrCantMultiplex,
		},
		{
			name:  "unknown protocol status",
			serve: func(c *rawConn, id uint16) { c.end(id, 0, 9) },
			doErr: ErrProtocol,
		},
		{
			name:  "closed before anything",
			serve: func(c *rawConn, id uint16) {},
			doErr: ErrIncomplete,
		},
		{
			name:  "closed inside the header block",
			serve: func(c *rawConn, id uint16) { c.send(TypeStdout, id, "Content-Type: text/pl") },
			doErr: ErrIncomplete,
		},
		{
			name:  "closed inside a record",
			serve: func(c *rawConn, id uint16) { c.Write(AppendRecords(nil, TypeStdout, id, []byte(hdr+"body"))[:20]) },
			doErr: ErrIncomplete,
		},
		{
			name: "closed after headers: body error, not EOF",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStdout, id, hdr+"partial")
			},
			status: 200, body: "partial", bodyErr: ErrIncomplete,
		},
		{
			name: "closed after the STDOUT end but before END_REQUEST",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStdout, id, hdr+"all")
				c.send(TypeStdout, id, "")
			},
			status: 200, body: "all", bodyErr: ErrIncomplete,
		},
		{
			name: "END_REQUEST cut short",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStdout, id, hdr+"all")
				c.Write(AppendEndRequest(nil, id, 0, 0)[:12])
			},
			status: 200, body: "all", bodyErr: ErrIncomplete,
		},
		{
			name: "END_REQUEST without header block",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStdout, id, "Content-Type: text/plain\r\n")
				c.end(id, 0, StatusRequestComplete)
			},
			doErr: ErrProtocol,
		},
		{
			name: "overloaded after headers",
			serve: func(c *rawConn, id uint16) {
				c.send(TypeStdout, id, hdr+"x")
				c.end(id, 0, StatusOverloaded)
			},
			status: 200, body: "x", bodyErr: ErrOverloaded,
		},
		{
			name: "management records skipped",
			serve: func(c *rawConn, id uint16) {
				c.Write(AppendUnknownType(nil, 77))
				c.send(TypeGetValuesResult, 0, "\x0f\x01FCGI_MPXS_CONNS0")
				c.respond(id, hdr+"fine")
			},
			status: 200, body: "fine",
		},
		{
			name:  "record for another request",
			serve: func(c *rawConn, id uint16) { c.respond(id+1, hdr+"x") },
			doErr: ErrProtocol,
		},
		{
			name:  "STDIN record from the application",
			serve: func(c *rawConn, id uint16) { c.send(TypeStdin, id, "x") },
			doErr: ErrProtocol,
		},
		{
			name:  "bad version",
			serve: func(c *rawConn, id uint16) { c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")) },
			doErr: ErrProtocol,
		},
		{
			name:   "location without status is 302",
			serve:  func(c *rawConn, id uint16) { c.respond(id, "Location: /next\r\n\r\n") },
			status: 302,
		},
		{
			name: "php-fpm 404 with LF line endings and odd padding",
			serve: func(c *rawConn, id uint16) {
				c.respond(id, "Status: 404 Not Found\nContent-type: text/html\n\nFile not found.\n")
			},
			status: 404, body: "File not found.\n",
		},
		{
			name: "header and body split across many records",
			serve: func(c *rawConn, id uint16) {
				for _, part := range []string{"Sta", "tus: 2", "01\r", "\nX-A: 1\r\n", "\r", "\nbo", "dy"} {
					c.send(TypeStdout, id, part)
				}
				c.send(TypeStdout, id, "")
				c.end(id, 0, StatusRequestComplete)
			},
			status: 201, body: "body",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := startRaw(t, func(conn *rawConn) {
				req, err := conn.readRequest()
				if err != nil {
					return
				}
				tt.serve(conn, req.id)
			})
			resp, err := do(t, c, "GET", "/", nil)
			if !errors.Is(err, tt.doErr) {
				t.Fatalf("Do error %v, want %v", err, tt.doErr)
			}
			if err != nil {
				if resp != nil {
					t.Error("response with an error")
				}
				if !strings.HasPrefix(err.Error(), "fcgi: ") {
					t.Errorf("error %q lacks the fcgi: prefix", err)
				}
				return
			}
			defer resp.Body.Close()
			body, err := readAll(t, resp.Body)
			if !errors.Is(err, tt.bodyErr) {
				t.Errorf("body error %v, want %v", err, tt.bodyErr)
			}
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if string(resp.Stderr()) != tt.stderr || resp.AppStatus() != tt.appStatus {
				t.Errorf("stderr %.40q app status %d, want %.40q %d", resp.Stderr(), resp.AppStatus(), tt.stderr, tt.appStatus)
			}
		})
	}
}

func TestGetValues(t *testing.T) {
	t.Run("stdlib", func(t *testing.T) {
		c, _ := startStd(t, http.HandlerFunc(stdHandler))
		got, err := c.GetValues(context.Background())
		if err != nil || got[MpxsConns] != "1" {
			t.Errorf("%v, %v", got, err)
		}
	})
	t.Run("php-fpm", func(t *testing.T) {
		asked := make(chan map[string]string, 1)
		c, _ := startRaw(t, func(conn *rawConn) {
			rec, err := ReadRecord(conn, conn.buf)
			if err != nil || rec.Type != TypeGetValues || rec.RequestID != 0 {
				return
			}
			m, _ := ReadPairs(rec.Content, 0)
			asked <- m
			// The exact reply payload observed from php-fpm 8.2.
			conn.send(TypeGetValuesResult, 0, "\x0f\x01FCGI_MPXS_CONNS0")
		})
		got, err := c.GetValues(context.Background())
		if err != nil || !maps.Equal(got, map[string]string{MpxsConns: "0"}) {
			t.Errorf("%v, %v", got, err)
		}
		want := map[string]string{MaxConns: "", MaxReqs: "", MpxsConns: ""}
		if m := <-asked; !maps.Equal(m, want) {
			t.Errorf("asked %v, want %v", m, want)
		}
	})
	t.Run("unknown type", func(t *testing.T) {
		c, _ := startRaw(t, func(conn *rawConn) {
			if _, err := ReadRecord(conn, conn.buf); err == nil {
				conn.Write(AppendUnknownType(nil, TypeGetValues))
			}
		})
		if _, err := c.GetValues(context.Background(), MaxConns); !errors.Is(err, ErrProtocol) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := startRaw(t, func(conn *rawConn) {})
		if _, err := c.GetValues(context.Background()); err == nil {
			t.Error("no error")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		c, _ := startRaw(t, func(conn *rawConn) { io.Copy(io.Discard, conn) })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var err error
		within(t, "GetValues", func() { _, err = c.GetValues(ctx) })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v", err)
		}
	})
}

func TestClientDialError(t *testing.T) {
	c := &Client{Network: "unix", Address: socketPath(t)}
	_, err := c.Do(context.Background(), &Request{})
	if err == nil || !strings.HasPrefix(err.Error(), "fcgi: ") {
		t.Errorf("err %v", err)
	}
	c = &Client{Address: "nonsense"}
	if _, err := c.Do(context.Background(), &Request{}); err == nil {
		t.Error("bad address accepted")
	}
}

func TestReadResponseHeader(t *testing.T) {
	tests := []struct {
		in     string
		status int
		header http.Header
		err    error
	}{
		{"\r\n", 200, http.Header{}, nil},
		{"content-type: text/html\r\nx-powered-by: PHP/8.2\r\n\r\n", 200,
			http.Header{"Content-Type": {"text/html"}, "X-Powered-By": {"PHP/8.2"}}, nil},
		{"Status: 404\n\n", 404, http.Header{}, nil},
		{"Status: 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n", 503, http.Header{"Retry-After": {"5"}}, nil},
		{"Location: http://x/\r\n\r\n", 302, http.Header{"Location": {"http://x/"}}, nil},
		{"Location: /x\r\nStatus: 307\r\n\r\n", 307, http.Header{"Location": {"/x"}}, nil},
		{"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}}, nil},
		{"X-Space:   padded \t\r\n\r\n", 200, http.Header{"X-Space": {"padded"}}, nil},
		{"X-Empty:\r\n\r\n", 200, http.Header{"X-Empty": {""}}, nil},
		{"Status: abc\r\n\r\n", 0, nil, ErrProtocol},
		{"Status: 42\r\n\r\n", 0, nil, ErrProtocol},
		{"Status: 0200\r\n\r\n", 0, nil, ErrProtocol},
		{"no colon here\r\n\r\n", 0, nil, ErrProtocol},
		{": empty name\r\n\r\n", 0, nil, ErrProtocol},
		{"Bad Name: x\r\n\r\n", 0, nil, ErrProtocol},
		{" folded: x\r\n\r\n", 0, nil, ErrProtocol},
		{"Content-Type: text/html\r\n", 0, nil, ErrProtocol}, // ends inside the block
		{"", 0, nil, ErrProtocol},
		{"X-Big: " + strings.Repeat("x", maxHeaderBytes) + "\r\n\r\n", 0, nil, ErrProtocol},
		{"X-Long: " + strings.Repeat("y", 10000) + "\r\n\r\n", 200, http.Header{"X-Long": {strings.Repeat("y", 10000)}}, nil},
	}
	for _, tt := range tests {
		r := newTestReader(tt.in)
		status, h, err := readResponseHeader(r, make([]string, 2))
		if !errors.Is(err, tt.err) || status != tt.status {
			t.Errorf("%.40q: %d %v, want %d %v", tt.in, status, err, tt.status, tt.err)
			continue
		}
		if err == nil && !maps.EqualFunc(h, tt.header, equalStrings) {
			t.Errorf("%.40q: header %v, want %v", tt.in, h, tt.header)
		}
	}
}

func newTestReader(s string) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), 4096)
}

// TestClientRetryReusedConn: a kept connection that the application closes
// after reading the next request, without answering (it was recycled at that
// moment), is replaced once for a request without a body.
func TestClientRetryReusedConn(t *testing.T) {
	c, ln := startRaw(t, func(conn *rawConn) {
		for i := 0; ; i++ {
			req, err := conn.readRequest()
			if err != nil || i == 1 {
				return // the second request on a connection is dropped
			}
			conn.respond(req.id, "\r\nok")
		}
	})
	c.MaxIdleConns = 1
	for i := range 2 {
		resp, err := do(t, c, "GET", "/", nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got, err := readAll(t, resp.Body); err != nil || string(got) != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		resp.Body.Close()
	}
	if got := ln.accepted.Load(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
	// With a body, the request may have run: no retry.
	_, err := do(t, c, "POST", "/", []byte("x"))
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("POST on a dropped connection: %v", err)
	}
}

// TestClientCloseDuringRead: Close unblocks a Read waiting for the
// application.
func TestClientCloseDuringRead(t *testing.T) {
	c, _ := startRaw(t, func(conn *rawConn) {
		req, err := conn.readRequest()
		if err != nil {
			return
		}
		conn.send(TypeStdout, req.id, "\r\nfirst")
		io.Copy(io.Discard, conn) // then nothing until the client hangs up
	})
	resp, err := do(t, c, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(buf)
		errc <- err
	}()
	// Close races with the Read above either way; both orders must end it.
	resp.Body.Close()
	select {
	case err := <-errc:
		if err == nil || err == io.EOF {
			t.Errorf("Read after Close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not unblock Read")
	}
}

// TestClientStreamedSmallBody: a small body that is not in memory is
// streamed by the goroutine, and a short one is still an error.
func TestClientStreamedSmallBody(t *testing.T) {
	c, _ := startStd(t, http.HandlerFunc(stdHandler))
	params := map[string]string{"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/sum"}
	notInMemory := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	resp, err := c.Do(context.Background(), &Request{Params: params, Body: notInMemory("abc"), ContentLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, resp.Body)
	resp.Body.Close()
	if sum := sha256.Sum256([]byte("abc")); err != nil || string(got) != "3 "+hex.EncodeToString(sum[:]) {
		t.Errorf("%q, %v", got, err)
	}
	within(t, "Do with a short streamed body", func() {
		resp, err = c.Do(context.Background(), &Request{Params: params, Body: notInMemory("ab"), ContentLength: 3})
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short streamed body: %v", err)
	}
}

// TestClientHeaderTimeout: an application that sends no header within
// HeaderTimeout gets ABORT_REQUEST, and Do returns ErrHeaderTimeout; one
// that answers in time is read to the end with no deadline left over for
// its body, however long that takes.
func TestClientHeaderTimeout(t *testing.T) {
	const ht = 100 * time.Millisecond
	got := make(chan RecordType, 1)
	c, _ := startRaw(t, func(conn *rawConn) {
		var params []byte
		for { // BEGIN_REQUEST and PARAMS; the body is read below
			rec, err := ReadRecord(conn, conn.buf)
			if err != nil {
				return
			}
			if rec.Type == TypeParams && len(rec.Content) == 0 {
				break
			}
			if rec.Type == TypeParams {
				params = append(params, rec.Content...)
			}
		}
		if p, _ := ReadPairs(params, 0); p["SCRIPT_NAME"] == "/slow" { // never answers
			for {
				rec, err := ReadRecord(conn, conn.buf)
				if err != nil {
					return
				}
				if rec.Type != TypeStdin {
					got <- rec.Type
					return
				}
			}
		}
		conn.send(TypeStdout, reqID, "Content-Type: text/plain\r\n\r\nfirst ")
		// The body's rest waits for the client's word that HeaderTimeout
		// has passed since the header: it must not cut the body.
		rec, err := ReadRecord(conn, conn.buf)
		if err != nil || rec.Type != TypeStdin || string(rec.Content) != "go on" {
			return
		}
		conn.respond(reqID, "rest")
	})
	start := time.Now()
	_, err := c.Do(context.Background(), &Request{Pairs: AppendPair(nil, "SCRIPT_NAME", "/slow"), HeaderTimeout: ht})
	if !errors.Is(err, ErrHeaderTimeout) {
		t.Fatalf("Do: %v, want ErrHeaderTimeout", err)
	}
	if d := time.Since(start); d < ht || d > waitTimeout {
		t.Errorf("ErrHeaderTimeout after %s, want about %s", d, ht)
	}
	wantAbort(t, got)

	// In time: a body that streams on past HeaderTimeout is not cut.
	pr, pw := io.Pipe()
	resp, err := c.Do(context.Background(), &Request{Pairs: AppendPair(nil, "SCRIPT_NAME", "/ok"), Body: pr, ContentLength: 5, HeaderTimeout: ht})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != "first " {
		t.Fatalf("first body bytes %q, %v", b, err)
	}
	header := time.Now()
	timer := time.NewTimer(2 * ht)
	<-timer.C // past HeaderTimeout since the header: the deadline must be gone
	if time.Since(header) < 2*ht {
		t.Fatal("timer fired early")
	}
	pw.Write([]byte("go on"))
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "rest" {
		t.Fatalf("rest of the body %q, %v", rest, err)
	}
}

// TestClientHeaderTimeoutCountsFromLastByte: a body that streams for
// longer than HeaderTimeout, a piece at a time, is not cut: the timeout
// counts from the last piece written, as nginx's fastcgi_read_timeout.
func TestClientHeaderTimeoutCountsFromLastByte(t *testing.T) {
	const ht = 150 * time.Millisecond
	c, _ := startRaw(t, func(conn *rawConn) {
		req, err := conn.readRequest() // the whole body first
		if err != nil {
			return
		}
		conn.respond(req.id, "Content-Type: text/plain\r\n\r\n"+string(req.stdin))
	})
	pr, pw := io.Pipe()
	go func() {
		tick := time.NewTicker(ht / 2) // the slow client of the test, not a synchronisation
		defer tick.Stop()
		for range 5 { // 2.5 x ht in all
			<-tick.C
			pw.Write([]byte("ab"))
		}
	}()
	start := time.Now()
	resp, err := c.Do(context.Background(), &Request{Params: map[string]string{"REQUEST_METHOD": "POST"}, Body: pr, ContentLength: 10, HeaderTimeout: ht})
	if err != nil {
		t.Fatalf("Do after %s: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	if b, err := readAll(t, resp.Body); err != nil || string(b) != "ababababab" {
		t.Fatalf("body %q, %v", b, err)
	}
}

// TestClientHeaderTimeoutEarlyAnswer: an application that answers before
// reading its body, while the client is blocked writing it, gets its
// answer read at once: the header timeout never waits on the writer.
func TestClientHeaderTimeoutEarlyAnswer(t *testing.T) {
	stop := make(chan struct{})
	c, _ := startRaw(t, func(conn *rawConn) {
		for { // BEGIN_REQUEST and PARAMS only: the body is never read
			rec, err := ReadRecord(conn, conn.buf)
			if err != nil || rec.Type == TypeParams && len(rec.Content) == 0 {
				break
			}
		}
		conn.respond(reqID, "Status: 413\r\n\r\ntoo big")
		<-stop // reads nothing more: the client's writer stays blocked
	})
	t.Cleanup(func() { close(stop) })
	const size = 16 << 20 // more than the socket buffers take
	body := io.LimitReader(zeroReader{}, size)
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(context.Background(), &Request{Params: map[string]string{"REQUEST_METHOD": "POST"}, Body: body, ContentLength: size, HeaderTimeout: time.Minute})
		if err == nil {
			var b []byte
			b, err = readAll(t, resp.Body)
			resp.Body.Close()
			if err == nil && (resp.StatusCode != 413 || string(b) != "too big") {
				err = fmt.Errorf("answer %d %q", resp.StatusCode, b)
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Do waited for the body's writer")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestClientHeaderTimeoutBlockedWrite: an application that accepts and
// reads nothing, with params larger than the socket buffers, gets
// ErrHeaderTimeout too: the timeout bounds the request's writes, not only
// the wait after them.
func TestClientHeaderTimeoutBlockedWrite(t *testing.T) {
	const ht = 150 * time.Millisecond
	stop := make(chan struct{})
	c, _ := startRaw(t, func(conn *rawConn) { <-stop })
	t.Cleanup(func() { close(stop) })
	pairs := AppendPair(nil, "HTTP_X_BIG", strings.Repeat("x", 4<<20))
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Do(context.Background(), &Request{Pairs: pairs, HeaderTimeout: ht})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrHeaderTimeout) {
			t.Fatalf("Do: %v, want ErrHeaderTimeout", err)
		}
		if d := time.Since(start); d < ht {
			t.Errorf("ErrHeaderTimeout after %s, before the timeout of %s", d, ht)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Do still blocked in its write")
	}
}

// TestClientHeaderTimeoutNotRetried: a header timeout on a reused
// connection is the answer, not a dead connection to dial again.
func TestClientHeaderTimeoutNotRetried(t *testing.T) {
	const ht = 150 * time.Millisecond
	var mu sync.Mutex
	requests := 0
	stop := make(chan struct{})
	c, _ := startRaw(t, func(conn *rawConn) {
		for {
			req, err := conn.readRequest()
			if err != nil {
				return
			}
			mu.Lock()
			requests++
			first := requests == 1
			mu.Unlock()
			if !first { // slow from the second request on
				<-stop
				return
			}
			conn.respond(req.id, "\r\n")
		}
	})
	t.Cleanup(func() { close(stop) })
	c.MaxIdleConns = 1
	resp, err := c.Do(context.Background(), &Request{Params: map[string]string{"REQUEST_METHOD": "GET"}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp.Body)
	resp.Body.Close()
	start := time.Now()
	_, err = c.Do(context.Background(), &Request{Params: map[string]string{"REQUEST_METHOD": "GET"}, HeaderTimeout: ht})
	if !errors.Is(err, ErrHeaderTimeout) {
		t.Fatalf("Do: %v, want ErrHeaderTimeout", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := time.Since(start); requests != 2 || d > 2*ht {
		t.Errorf("%d requests seen, ErrHeaderTimeout after %s: retried", requests, d)
	}
}
