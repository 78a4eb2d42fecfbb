package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
	"github.com/gofpm/gofpm/worker/internal/testbuf"
)

func tcpPeer(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 40000} }

func TestAllowList(t *testing.T) {
	unixPeer := &net.UnixAddr{Name: "", Net: "unix"}
	cases := []struct {
		list    string
		peer    net.Addr
		allowed bool
		log     string // substring expected in the parse log
	}{
		{"", tcpPeer("10.0.0.1"), true, ""},
		{"127.0.0.1", tcpPeer("127.0.0.1"), true, ""},
		{"127.0.0.1", tcpPeer("127.0.0.2"), false, ""},
		{"127.0.0.1", tcpPeer("::ffff:127.0.0.1"), true, ""}, // IPv4-mapped peer on a dual-stack socket
		{"::ffff:127.0.0.1", tcpPeer("127.0.0.1"), true, ""},
		{"::1, 127.0.0.1", tcpPeer("::1"), true, ""},
		{"::1", tcpPeer("::2"), false, ""},
		{"127.0.0.1", unixPeer, true, ""}, // Unix peers are always allowed
		{"bogus,127.0.0.1", tcpPeer("127.0.0.1"), true, "Wrong IP address 'bogus'"},
		{"bogus", tcpPeer("127.0.0.1"), false, "There are no allowed addresses"}, // none valid: refuse all
		{"10.0.0.0/8", tcpPeer("10.0.0.1"), false, "Wrong IP address '10.0.0.0/8'"},
	}
	for _, c := range cases {
		var log testbuf.Buffer
		l := parseAllowList(c.list, &log)
		if got := l.allow(c.peer); got != c.allowed {
			t.Errorf("list %q peer %v: allowed %v, want %v", c.list, c.peer, got, c.allowed)
		}
		if c.log != "" && !strings.Contains(log.String(), c.log) {
			t.Errorf("list %q: log %q lacks %q", c.list, log.String(), c.log)
		}
	}
}

// TestAllowListLogsOncePerMinute: a refused address is reported once per
// minute, with the count of refusals in between.
func TestAllowListLogsOncePerMinute(t *testing.T) {
	var log testbuf.Buffer
	l := parseAllowList("127.0.0.1", &log)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for range 3 {
		l.allow(tcpPeer("127.0.0.2"))
	}
	if n := strings.Count(log.String(), "Connection disallowed: IP address '127.0.0.2' has been dropped."); n != 1 {
		t.Fatalf("%d reports after 3 refusals within a minute, want 1:\n%s", n, log.String())
	}
	now = now.Add(dropLogEvery)
	l.allow(tcpPeer("127.0.0.2"))
	if !strings.Contains(log.String(), "(and 2 more times since the last report)") {
		t.Fatalf("second report lacks the count:\n%s", log.String())
	}
}

// TestAllowedClientsServe: a real TCP listener; a client bound to
// 127.0.0.2 is disconnected without an answer, one from 127.0.0.1 is
// served.
func TestAllowedClientsServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log testbuf.Buffer
	stop := make(chan struct{})
	served := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	go func() {
		served <- Serve(h, withListener(ln), withStop(stop), WithMaxRequests(0), WithConcurrency(1),
			withAllowList(parseAllowList("127.0.0.1", &log)))
	}()
	t.Cleanup(func() {
		close(stop)
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	client := func(src string) *fcgi.Client {
		return &fcgi.Client{Dial: func(ctx context.Context) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		}}
	}
	get := func(src string) (int, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client(src).Do(ctx, &fcgi.Request{Params: map[string]string{
			"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "x"}})
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	for range 2 {
		if code, body, err := get("127.0.0.2"); !errors.Is(err, fcgi.ErrIncomplete) {
			t.Fatalf("from 127.0.0.2: %d %q %v, want the connection closed before any answer (ErrIncomplete)", code, body, err)
		}
	}
	if code, body, err := get("127.0.0.1"); err != nil || code != 200 || body != "hello" {
		t.Fatalf("from 127.0.0.1: %d %q %v, want 200 hello", code, body, err)
	}
	if n := strings.Count(log.String(), "Connection disallowed: IP address '127.0.0.2' has been dropped."); n != 1 {
		t.Fatalf("%d reports for 2 refused connections within a minute, want 1:\n%s", n, log.String())
	}
}
