package fcgi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func BenchmarkAppendRecords(b *testing.B) {
	for _, n := range []int{512, 64 << 10} {
		content := bytes.Repeat([]byte("x"), n)
		b.Run(byteSize(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			buf := make([]byte, 0, n+n/MaxContentSize*16+64)
			for b.Loop() {
				buf = AppendRecords(buf[:0], TypeStdout, 1, content)
			}
		})
	}
}

func BenchmarkWriteRecord(b *testing.B) {
	content := bytes.Repeat([]byte("x"), 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		WriteRecord(io.Discard, TypeStdout, 1, content)
	}
}

func BenchmarkReadRecord(b *testing.B) {
	for _, n := range []int{512, MaxContentSize} {
		in := AppendRecords(nil, TypeStdout, 1, bytes.Repeat([]byte("x"), n))
		b.Run(byteSize(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			buf := make([]byte, MaxRecordSize)
			r := bytes.NewReader(in)
			for b.Loop() {
				r.Reset(in)
				if _, err := ReadRecord(r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchParams are the params of a typical request from an HTTP front.
func benchParams(b *testing.B) map[string]string {
	r := httptest.NewRequest("GET", "http://example.com/index.php?page=1", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0")
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("Accept-Language", "en-US,en;q=0.5")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	r.Header.Set("Cookie", "PHPSESSID=0123456789abcdef0123456789abcdef")
	p, err := EnvFromRequest(r, EnvOptions{DocumentRoot: "/var/www/html", ServerSoftware: "gofpm"})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkAppendPairs(b *testing.B) {
	params := benchParams(b)
	buf := AppendPairs(nil, params)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendPairs(buf[:0], params)
	}
}

func BenchmarkReadPairs(b *testing.B) {
	in := AppendPairs(nil, benchParams(b))
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ReadPairs(in, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvFromRequest(b *testing.B) {
	r := httptest.NewRequest("GET", "http://example.com/index.php?page=1", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Cookie", "PHPSESSID=0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EnvFromRequest(r, EnvOptions{DocumentRoot: "/var/www/html"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEnv: the front's per-request params, encoded without a
// map, for a request as net/http's server gives it.
func BenchmarkAppendEnv(b *testing.B) {
	r := httptest.NewRequest("GET", "/index.php?page=1", nil)
	r.RequestURI = "/index.php?page=1"
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Cookie", "PHPSESSID=0123456789abcdef")
	o := EnvOptions{DocumentRoot: "/var/www/html", Extra: []string{"HTTP_X_GOFPM_FRONT", "1"}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendEnv(buf[:0], r, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientRoundTrip measures Do plus reading and closing the body over
// a Unix socket. "raw" is a minimal server that answers a canned response,
// so that the figures are mostly the client's; "stdlib" is net/http/fcgi,
// whose own allocations are counted too.
func BenchmarkClientRoundTrip(b *testing.B) {
	const page = "Content-Type: text/html; charset=UTF-8\r\nX-Powered-By: PHP/8.2\r\n\r\n<html>hello</html>"
	raw := func(b *testing.B) *Client {
		c, _ := startRaw(b, func(conn *rawConn) {
			conn.lean = true
			resp := AppendRecords(nil, TypeStdout, reqID, []byte(page))
			resp = AppendRecords(resp, TypeStdout, reqID, nil)
			resp = AppendEndRequest(resp, reqID, 0, StatusRequestComplete)
			for {
				req, err := conn.readRequest()
				if err != nil {
					return
				}
				conn.Write(resp)
				if !req.keep {
					return
				}
			}
		})
		return c
	}
	std := func(b *testing.B) *Client {
		c, _ := startStd(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			io.WriteString(w, "<html>hello</html>")
		}))
		return c
	}
	for _, bc := range []struct {
		name  string
		start func(*testing.B) *Client
		idle  int
		body  int
	}{
		{"raw", raw, 0, 0},
		{"raw-keepconn", raw, 1, 0},
		{"raw-keepconn-post4k", raw, 1, 4 << 10},
		{"raw-keepconn-post4k-streamed", raw, 1, -4 << 10},
		{"raw-keepconn-post256k", raw, 1, 256 << 10},
		{"stdlib", std, 0, 0},
		{"stdlib-keepconn", std, 1, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := bc.start(b)
			c.MaxIdleConns = bc.idle
			params := benchParams(b)
			// A negative size: the body is not in memory, so it is
			// streamed by the goroutine.
			body := bytes.Repeat([]byte("p"), max(bc.body, -bc.body))
			br := bytes.NewReader(body)
			req := &Request{Params: params, ContentLength: int64(len(body))}
			switch {
			case bc.body > 0:
				req.Body = br
			case bc.body < 0:
				req.Body = struct{ io.Reader }{br}
			}
			sink := make([]byte, 32<<10)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(body)
				resp, err := c.Do(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := resp.Body.Read(sink)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				resp.Body.Close()
			}
		})
	}
}

func byteSize(n int) string {
	if n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
