package front

import (
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/rs/zerolog"
)

// serveCanned answers every FastCGI request with the same page, allocating
// nothing per request, so that the benchmark counts the front's costs only.
func serveCanned(ln net.Listener) {
	const page = "Content-Type: text/html; charset=UTF-8\r\n\r\n<html>hello</html>"
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, fcgi.MaxRecordSize)
			var resp []byte
			for {
				rec, err := fcgi.ReadRecord(c, buf)
				if err != nil {
					return
				}
				if rec.Type == fcgi.TypeStdin && len(rec.Content) == 0 {
					resp = fcgi.AppendRecords(resp[:0], fcgi.TypeStdout, rec.RequestID, []byte(page))
					resp = fcgi.AppendRecords(resp, fcgi.TypeStdout, rec.RequestID, nil)
					resp = fcgi.AppendEndRequest(resp, rec.RequestID, 0, fcgi.StatusRequestComplete)
					c.Write(resp)
					return
				}
			}
		}()
	}
}

// BenchmarkFrontServeHTTP: the front's own cost per request, from a parsed
// HTTP request to the copied response, against an in-process FastCGI
// application on a Unix socket (keep-conn reused).
func BenchmarkFrontServeHTTP(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go serveCanned(ln)
	opts := Options{ReadTimeout: time.Minute, MaxBodyBytes: 8 << 20, Buffering: Buffering{SendTimeout: time.Minute, BodyTimeout: time.Minute}}
	u := &upstream{name: "bench", client: &fcgi.Client{Network: "unix", Address: sock}}
	f := &Server{opts: opts, log: zerolog.Nop(), def: u, byName: map[string]*upstream{"bench": u}}
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080/index.php?a=1", nil)
	req.RequestURI = "/index.php?a=1" // as net/http's server gives it
	req.Header.Set("User-Agent", "wrk")
	req.Header.Set("Accept", "*/*")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
