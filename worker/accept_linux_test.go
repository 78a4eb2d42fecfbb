//go:build linux

package worker

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"golang.org/x/sys/unix"
)

// sharedSocket makes a blocking listening Unix socket as the master does
// and returns its fd and path.
func sharedSocket(t *testing.T) (int, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "worker")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		t.Fatal(err)
	}
	return fd, path
}

// TestExclusiveListenerShared: two workers serve one shared socket through
// the exclusive listener and raw connections; stopping one leaves the
// socket serving through the other.
func TestExclusiveListenerShared(t *testing.T) {
	fd, path := sharedSocket(t)
	type w struct {
		stop   chan struct{}
		served chan error
	}
	start := func(name string) w {
		dup, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		l, err := newExclusiveListener(dup)
		if err != nil {
			t.Fatal(err)
		}
		x := w{stop: make(chan struct{}), served: make(chan error, 1)}
		h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			io.WriteString(rw, name+":"+string(body))
		})
		go func() {
			x.served <- Serve(h, withListener(l), withStop(x.stop), WithMaxRequests(0), WithConcurrency(1))
		}()
		return x
	}
	a, b := start("a"), start("b")
	c := &fcgi.Client{Network: "unix", Address: path}
	do := func(body string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.Do(ctx, &fcgi.Request{Params: map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1"},
			Body: strings.NewReader(body), ContentLength: int64(len(body))})
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		return string(got)
	}
	big := string(make([]byte, 200_000))
	for range 5 {
		if got := do(big); len(got) != len(big)+2 {
			t.Fatalf("answer of %d bytes", len(got))
		}
	}
	close(a.stop)
	select {
	case err := <-a.served:
		if err != nil {
			t.Fatalf("Serve a = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("worker a did not stop")
	}
	for range 5 {
		if got := do("x"); got != "b:x" {
			t.Fatalf("after a stopped: %q", got)
		}
	}
	close(b.stop)
	<-b.served
}
