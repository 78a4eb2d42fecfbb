package proto

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAccessSuppress: php-fpm's access.suppress_path[] conditions, each
// one alone breaking the suppression (php-fpm's log-suppress-output tests).
func TestAccessSuppress(t *testing.T) {
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	tests := []struct {
		name   string
		method string
		target string
		body   string
		code   int
		logged bool
	}{
		{"probe: suppressed", "GET", "/ping", "", 200, false},
		{"HEAD: suppressed", "HEAD", "/ping", "", 204, false},
		{"second path", "GET", "/status", "", 200, false},
		{"failed probe: logged", "GET", "/ping", "", 503, true},
		{"redirect: logged", "GET", "/ping", "", 302, true},
		{"query string: logged", "GET", "/ping?full", "", 200, true},
		{"POST: logged", "POST", "/ping", "", 200, true},
		{"a body: logged", "GET", "/ping", "x", 200, true},
		{"other path: logged", "GET", "/ping/", "", 200, true},
		{"prefix is not enough: logged", "GET", "/pingx", "", 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a := fixedLog(t, "%m %r%Q%q %s", &out)
			a.suppress = []string{"/ping", "/status"}
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.body == "" {
				r.ContentLength = 0
			}
			a.Wrap(status(tt.code)).ServeHTTP(httptest.NewRecorder(), r)
			if got := out.Len() > 0; got != tt.logged {
				t.Errorf("logged %v (%q), want %v", got, out.String(), tt.logged)
			}
		})
	}

	// The front's logger (php-cgi pools) follows the same rule.
	var out bytes.Buffer
	l, err := NewAccessLogger(&out, "%r %s", "www")
	if err != nil {
		t.Fatal(err)
	}
	l.Suppress([]string{"/healthz"})
	h := l.Wrap(status(200), nil)
	for _, target := range []string{"/healthz", "/app"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	if out.String() != "/app 200\n" {
		t.Errorf("front logger wrote %q, want only /app", out.String())
	}
}

// TestAccessSuppressFromEnv: the worker reads the list from
// EnvAccessSuppressPath and unsets it.
func TestAccessSuppressFromEnv(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "a.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAccessLogFD, strconv.Itoa(fd))
	t.Setenv(EnvAccessFormat, "")
	t.Setenv(EnvAccessSuppressPath, "/ping\n/status")
	a, err := OpenAccessLog()
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer a.Close()
	if strings.Join(a.suppress, ",") != "/ping,/status" {
		t.Errorf("suppress %q", a.suppress)
	}
	if v, ok := os.LookupEnv(EnvAccessSuppressPath); ok {
		t.Errorf("%s=%q still set", EnvAccessSuppressPath, v)
	}
}
