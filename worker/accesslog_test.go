package worker

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker/proto"
	"golang.org/x/sys/unix"
)

// TestAccessLogEndToEnd: Serve with the log from the environment, on a
// temp file's fd as the master passes it; one request through the FastCGI
// client writes one line.
func TestAccessLogEndToEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "www.access.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd())) // the log owns its own fd
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(proto.EnvAccessLogFD, strconv.Itoa(fd))
	t.Setenv(proto.EnvAccessFormat, `%R - %u %t "%m %r%Q%q" %s %f %n %{X-Test}o %{REMOTE_ADDR}e %p %l`)
	t.Setenv(proto.EnvPool, "www")
	a, err := proto.OpenAccessLog()
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer a.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made")
	})
	// The worker tells the log about each connection it accepts.
	peers := func(s *server) { s.ln = &peerListener{Listener: s.ln, a: a} }
	ts := startServer(t, a.Wrap(h), peers)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ts.client.Do(ctx, &fcgi.Request{
		Params: map[string]string{
			"REQUEST_METHOD": "POST", "REQUEST_URI": "/hello?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
			"HTTP_HOST": "x", "SCRIPT_FILENAME": "/srv/hello", "REMOTE_ADDR": "203.0.113.9",
			"HTTP_AUTHORIZATION": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")),
		},
		Body: strings.NewReader("12345"), ContentLength: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "made" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	// The line is written before FCGI_END_REQUEST, so it is there once the
	// body has ended.
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^- - alice \d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} "POST /hello\?x=1" 201 /srv/hello www yes 203\.0\.113\.9 ` +
		strconv.Itoa(os.Getpid()) + " 5\n$")
	if !re.Match(got) {
		t.Errorf("access log:\n%q\nwant it to match %s", got, re)
	}
}

// peerListener calls accepted for each connection, as the worker's
// listener does.
type peerListener struct {
	net.Listener
	a *proto.AccessLog
}

func (l *peerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.a.Accepted(c)
	}
	return c, err
}

// TestAccessLogServe: Serve opens the access log the master passes and
// writes one line per request.
func TestAccessLogServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "www.access.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := unix.Dup(int(f.Fd()))
	f.Close()
	t.Setenv(proto.EnvAccessLogFD, strconv.Itoa(fd))
	t.Setenv(proto.EnvAccessFormat, "")
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := ts.get(ctx, "/x?y"); r.err != nil || r.body != "ok" {
		t.Fatal(r)
	}
	got, _ := os.ReadFile(path)
	if !regexp.MustCompile(`^- -  \d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} "GET /x" 200\n$`).Match(got) {
		t.Errorf("%q", got)
	}
}
