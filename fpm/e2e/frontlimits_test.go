package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// onePool is a front on one Go worker that serves one request at a time,
// so a request still running in the worker blocks the next one.
const onePool = `
process_control_timeout = "5s"

[pool.hello]
listen = "{{DIR}}/hello.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
catch_workers_output = true

[http]
listen = "127.0.0.1:0"
default_pool = "hello"
`

// TestFrontReadTimeout: a worker that sends no header within read_timeout
// gets the client a 504, and its request is aborted, so the worker is free
// for the next one long before its handler would have finished.
func TestFrontReadTimeout(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`read_timeout = "1s"`+"\n")
	base := m.frontURL()
	c := &http.Client{Timeout: 15 * time.Second}
	start := time.Now()
	code, body := httpGet(t, c, base+"/sleep?ms=8000")
	d := time.Since(start)
	if code != http.StatusGatewayTimeout || d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("GET /sleep?ms=8000 = %d %q after %s, want 504 after about 1s", code, body, d)
	}
	m.waitFor("no response header within read_timeout (1s)", 5*time.Second)
	start = time.Now()
	if code, body := httpGet(t, c, base+"/"); code != 200 || time.Since(start) > 3*time.Second {
		t.Fatalf("next request = %d %q after %s: the worker was not freed", code, body, time.Since(start))
	}
	// A slow upload is not a slow worker: read_timeout counts from the
	// last byte sent. The body comes in 5 pieces 400 ms apart (2 s in all,
	// twice read_timeout).
	resp, err := c.Post(base+"/echo", "application/octet-stream", &pacedReader{n: 5, every: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "piece piece piece piece piece " {
		t.Fatalf("slow upload: %d %q", resp.StatusCode, b)
	}
}

// pacedReader is a client that sends n pieces of a body, one per tick:
// the slow client of the test, not a synchronisation.
type pacedReader struct {
	n     int
	every time.Duration
	tick  *time.Ticker
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	if p.tick == nil {
		p.tick = time.NewTicker(p.every)
	} else {
		<-p.tick.C
	}
	p.n--
	if p.n == 0 {
		p.tick.Stop()
	}
	return copy(b, "piece "), nil
}

// TestFrontClientDisconnect: a client that hangs up makes the front close
// the FastCGI connection; the worker's handler sees its context end, and
// the only worker serves the next request at once.
func TestFrontClientDisconnect(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool)
	base := m.frontURL()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sleep?ms=20000", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	m.waitFor("sleeping 20000 ms", 10*time.Second) // the worker has the request
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	start := time.Now()
	c := &http.Client{Timeout: 15 * time.Second}
	if code, body := httpGet(t, c, base+"/"); code != 200 || time.Since(start) > 3*time.Second {
		t.Fatalf("after the client left: GET / = %d %q after %s (worker still busy?)", code, body, time.Since(start))
	}
}

// rawHTTP sends req on a new connection and returns what comes back until
// the server closes or d passes.
func rawHTTP(t *testing.T, addr, req string, d time.Duration) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestFrontBadInput: the HTTP rows of docs/security.md's bad-input table.
// Each bad request gets its error status; the pool keeps serving.
func TestFrontBadInput(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`read_header_timeout = "1s"
max_header_bytes = 4096
max_body_bytes = 1024
`)
	base := m.frontURL()
	addr := strings.TrimPrefix(base, "http://")
	c := &http.Client{Timeout: 10 * time.Second}
	ok := func(when string) {
		t.Helper()
		if code, body := httpGet(t, c, base+"/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm") {
			t.Fatalf("%s: GET / = %d %q", when, code, body)
		}
	}
	post := func(body io.Reader) (int, string) {
		t.Helper()
		resp, err := c.Post(base+"/echo", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// onlyReader hides Len, so net/http sends the body chunked.
	type onlyReader struct{ io.Reader }

	t.Run("huge header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("16 KiB header = %d, want 431", resp.StatusCode)
		}
		ok("after a huge header")
	})
	t.Run("body over max_body_bytes", func(t *testing.T) {
		if code, _ := post(bytes.NewReader(make([]byte, 2000))); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("Content-Length 2000 = %d, want 413", code)
		}
		if code, _ := post(onlyReader{bytes.NewReader(make([]byte, 2000))}); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked 2000 bytes = %d, want 413", code)
		}
		small := bytes.Repeat([]byte("x"), 500)
		if code, body := post(onlyReader{bytes.NewReader(small)}); code != 200 || body != string(small) {
			t.Fatalf("chunked 500 bytes = %d, %d bytes back", code, len(body))
		}
		ok("after large bodies")
	})
	t.Run("bad chunking", func(t *testing.T) {
		got := rawHTTP(t, addr, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Fatalf("bad chunk size: %q, want 400", got)
		}
		ok("after bad chunking")
	})
	t.Run("NUL bytes", func(t *testing.T) {
		got := rawHTTP(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Fatalf("NUL in a header: %q, want 400", got)
		}
		got = rawHTTP(t, addr, "GET /a%00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Fatalf("NUL in the path: %q, want 400", got)
		}
		ok("after NUL bytes")
	})
	t.Run("httpoxy", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/env", nil)
		req.Header.Set("Proxy", "http://evil.example:3128")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]string
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /env with Proxy: %d %v", resp.StatusCode, err)
		}
		if v, set := env["HTTP_PROXY"]; set {
			t.Fatalf("HTTP_PROXY reached the worker: %q", v)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		slow, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		start := time.Now()
		io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n") // and never the blank line
		ok("while a slow client holds a connection")
		slow.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(slow)
		if err != nil || time.Since(start) > 4*time.Second {
			t.Fatalf("slow client not dropped after read_header_timeout: %q, %v after %s", b, err, time.Since(start))
		}
		ok("after a slow client")
	})
}

// TestFrontTrustedProxy: behind a trusted proxy, REMOTE_ADDR is the
// client in X-Forwarded-For and X-Forwarded-Proto: https sets HTTPS.
func TestFrontTrustedProxy(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool+`trusted_proxies = ["127.0.0.0/8", "10.0.0.1"]`+"\n")
	req, _ := http.NewRequest("GET", m.frontURL()+"/env", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.9, 203.0.113.7, 10.0.0.1")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if env["REMOTE_ADDR"] != "203.0.113.7" || env["HTTPS"] != "on" {
		t.Fatalf("REMOTE_ADDR %q HTTPS %q, want 203.0.113.7 and on", env["REMOTE_ADDR"], env["HTTPS"])
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and returns
// the paths and a pool that trusts it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gofpm test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// TestFrontTLSHTTP2: with tls_cert and tls_key the front speaks HTTPS,
// HTTP/2 by ALPN, and streams server-sent events over it.
func TestFrontTLSHTTP2(t *testing.T) {
	dir := shortTempDir(t)
	certFile, keyFile, roots := writeCert(t, dir)
	m := startMaster(t, dir, onePool+fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", certFile, keyFile))
	base := m.frontURL()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("front URL %q is not https", base)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
	resp, err := c.Get(base + "/env")
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("GET /env over TLS: %s, %v", resp.Proto, err)
	}
	if env["HTTPS"] != "on" || env["REQUEST_SCHEME"] != "https" {
		t.Fatalf("HTTPS %q REQUEST_SCHEME %q", env["HTTPS"], env["REQUEST_SCHEME"])
	}
	start := time.Now()
	resp, err = c.Get(base + "/stream?n=2&ms=3000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "tick 1\n" || time.Since(start) > 2*time.Second {
		t.Fatalf("first event over HTTP/2: %q %v after %s", line, err, time.Since(start))
	}
}

// TestFrontAccessLines: the front writes the access line for a pool whose
// workers write none (php-cgi); for a Go pool the worker writes it and the
// front does not write a second one.
func TestFrontAccessLines(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	www := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(www, "php"), 0o755)
	os.WriteFile(filepath.Join(www, "php", "hi.php"), []byte("<?php echo 'hi ', $_SERVER['QUERY_STRING'];"), 0o644)
	m := startMaster(t, dir, fmt.Sprintf(`
[pool.go]
listen = "{{DIR}}/go.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
access_log = "{{DIR}}/go.access.log"

[pool.php]
listen = "{{DIR}}/php.sock"
command = [%q]
pm = "static"
pm_max_children = 1
access_log = "{{DIR}}/php.access.log"
access_format = '%%R %%m %%r%%Q%%q %%s %%n'

[http]
listen = "127.0.0.1:0"
root = "{{DIR}}/www"
default_pool = "go"
[[http.route]]
prefix = "/php"
pool = "php"
`, phpCGI))
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		if code, body := httpGet(t, c, fmt.Sprintf("%s/php/hi.php?n=%d", base, i)); code != 200 || body != fmt.Sprintf("hi n=%d", i) {
			t.Fatalf("php: %d %q", code, body)
		}
		if code, _ := httpGet(t, c, fmt.Sprintf("%s/env?n=%d", base, i)); code != 200 {
			t.Fatalf("go: %d", code)
		}
	}
	// Lines are written once the response is out: wait for them.
	var php, gol string
	eventually(t, 5*time.Second, "3 access lines in each log", func() bool {
		b1, _ := os.ReadFile(filepath.Join(dir, "php.access.log"))
		b2, _ := os.ReadFile(filepath.Join(dir, "go.access.log"))
		php, gol = string(b1), string(b2)
		return strings.Count(php, "\n") >= 3 && strings.Count(gol, "\n") >= 3
	})
	want := "127.0.0.1 GET /php/hi.php?n=2 200 php\n"
	if !strings.HasSuffix(php, want) {
		t.Fatalf("php access log %q, want it to end with %q", php, want)
	}
	if n := strings.Count(gol, "GET /env"); n != 3 || strings.Count(gol, "\n") != 3 {
		t.Fatalf("go access log has %d lines for 3 requests: %q", strings.Count(gol, "\n"), gol)
	}
	if n := strings.Count(php, "\n"); n != 3 {
		t.Fatalf("php access log has %d lines for 3 requests: %q", n, php)
	}
}

// TestFrontGracefulDrain: SIGQUIT lets a request in flight through the
// front finish with 200 and then the master exits 0.
func TestFrontGracefulDrain(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool)
	base := m.frontURL()
	done := getAsync(&http.Client{Timeout: 15 * time.Second}, base+"/sleep?ms=1500")
	m.waitFor("sleeping 1500 ms", 10*time.Second)
	m.cmd.Process.Signal(syscall.SIGQUIT)
	r := <-done
	if r.err != nil || r.code != 200 || !strings.HasPrefix(r.body, "slept 1500 ms") {
		t.Fatalf("request in flight during SIGQUIT: %d %q %v", r.code, r.body, r.err)
	}
	if code := m.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("master exited with %d", code)
	}
}

// TestFrontContentLength: a Go worker sends the end of its answer and its
// FCGI_END_REQUEST in one write, so the front has the whole short answer
// at once and sends it with a Content-Length; an answer the handler
// flushed on its way (a stream) goes out in chunks.
func TestFrontContentLength(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, onePool)
	base := m.frontURL()
	for range 5 {
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ContentLength != int64(len(b)) || len(resp.TransferEncoding) != 0 {
			t.Fatalf("GET /: Content-Length %d for %d bytes, Transfer-Encoding %v", resp.ContentLength, len(b), resp.TransferEncoding)
		}
	}
	resp, err := http.Get(base + "/stream?n=2&ms=10")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "tick 1\ntick 2\n" || len(resp.TransferEncoding) != 1 {
		t.Fatalf("stream: %q, Transfer-Encoding %v", b, resp.TransferEncoding)
	}
}
