package front

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPassBuffers: through a real net/http server and a FastCGI
// application in process, a stream reaches the client at each flush
// while the answer goes through the spool, a chunked body past
// body_buffer_size arrives whole (through a temp file), and one past
// max_body_bytes gets 413 without reaching the application.
func TestPassBuffers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	next := make(chan struct{})
	asked := make(chan string, 10)
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "one\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "two\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		io.Copy(w, r.Body)
	})
	go stdfcgi.Serve(ln, mux)
	s := newTestServer(t, Options{
		DefaultPool: "app", Pools: []Pool{{Name: "app", Network: "unix", Address: sock}},
		ReadTimeout: 10 * time.Second, MaxBodyBytes: 1 << 20,
		Buffering: Buffering{TempDir: t.TempDir(), BodyTimeout: 10 * time.Second, SendTimeout: 10 * time.Second},
	})
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := &http.Client{Timeout: 10 * time.Second}

	resp, err := c.Get(ts.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if l, err := br.ReadString('\n'); l != "one\n" || err != nil {
		t.Fatalf("first line %q %v", l, err)
	}
	close(next) // only now may the second come
	if rest, err := io.ReadAll(br); string(rest) != "two\n" || err != nil {
		t.Fatalf("rest %q %v", rest, err)
	}
	resp.Body.Close()

	body := strings.Repeat("0123456789", 30<<10) // 300 KiB, chunked
	resp, err = c.Post(ts.URL+"/echo", "text/plain", struct{ io.Reader }{strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != body {
		t.Fatalf("chunked 300 KiB: %d, %d bytes back", resp.StatusCode, len(b))
	}
	<-asked

	// The front answers 413 and closes while the client still sends: the
	// client sees the 413, or, when the close beats the rest of its body,
	// a reset on its write (as with nginx without lingering_close). Either
	// way the application is never asked.
	resp, err = c.Post(ts.URL+"/echo", "text/plain", struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 2<<20))})
	switch {
	case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
	case err != nil:
		t.Fatal(err)
	default:
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked 2 MiB over max_body_bytes: %d, want 413", resp.StatusCode)
		}
	}
	select {
	case p := <-asked:
		t.Fatalf("the application was asked for %s with a body over the limit", p)
	default:
	}
	// The handlers' deferred Close may run just after the client has
	// its last byte.
	for deadline := time.Now().Add(5 * time.Second); s.bufs.mem.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of buffer memory still counted", s.bufs.mem.Load())
		}
	}
}

// TestPassNoTempDir: a body that needs a temp file the front cannot make
// is answered 500, with the reason in the log, and reaches no worker.
func TestPassNoTempDir(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Options{
		DefaultPool: "app", Pools: []Pool{{Name: "app", Network: "unix", Address: filepath.Join(t.TempDir(), "none.sock")}},
		ReadTimeout: 10 * time.Second, MaxBodyBytes: 1 << 20,
		Buffering: Buffering{TempDir: notDir, BodyBufferSize: chunkSize},
	})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("x", 100<<10))))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("body without a temp folder: %d, want 500", w.Code)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/x", strings.NewReader("small")))
	if w.Code != http.StatusBadGateway { // in memory: on to the (absent) pool
		t.Fatalf("small body: %d, want 502 from the absent pool", w.Code)
	}
}
