package worker

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// BenchmarkServe measures one request through Serve's whole path (the
// connection filter, net/http/fcgi, the handler wrappers) over a Unix
// socket, on a new connection per request (nginx's default) and on a kept
// one. The client's allocations are counted too; compare runs, not
// absolute figures.
func BenchmarkServe(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		io.WriteString(w, "<html>hello</html>")
	})
	params := map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/index.php?a=1", "SCRIPT_NAME": "/index.php",
		"SCRIPT_FILENAME": "/srv/index.php", "QUERY_STRING": "a=1", "SERVER_PROTOCOL": "HTTP/1.1",
		"HTTP_HOST": "example.com", "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
	}
	for _, bc := range []struct {
		name string
		idle int
	}{{"conn", 0}, {"keepconn", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			// Serve sets GOMAXPROCS to the concurrency, as in production.
			prev := runtime.GOMAXPROCS(0)
			b.Cleanup(func() { runtime.GOMAXPROCS(prev) })
			ts := startServer(b, h)
			ts.client.MaxIdleConns = bc.idle
			req := &fcgi.Request{Params: params}
			ctx := context.Background()
			sink := make([]byte, 4<<10)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := ts.client.Do(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := resp.Body.Read(sink); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				resp.Body.Close()
			}
		})
	}
}
