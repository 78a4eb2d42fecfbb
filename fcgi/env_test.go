package fcgi

import (
	"context"
	"crypto/tls"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEnvFromRequestFull(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com:8080/index.php?a=1&b=%20", nil)
	r.RemoteAddr = "[2001:db8::1]:51000"
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Set("X-Custom-Thing", "yes")
	r.SetBasicAuth("alice", "secret")
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey,
		&net.TCPAddr{IP: net.ParseIP("10.0.0.2"), Port: 8080}))
	got, err := EnvFromRequest(r, EnvOptions{DocumentRoot: "/var/www/", ServerSoftware: "gofpm"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"SCRIPT_FILENAME":     "/var/www/index.php",
		"QUERY_STRING":        "a=1&b=%20",
		"REQUEST_METHOD":      "GET",
		"CONTENT_TYPE":        "",
		"CONTENT_LENGTH":      "",
		"SCRIPT_NAME":         "/index.php",
		"REQUEST_URI":         "/index.php?a=1&b=%20",
		"DOCUMENT_URI":        "/index.php",
		"DOCUMENT_ROOT":       "/var/www/",
		"SERVER_PROTOCOL":     "HTTP/1.1",
		"REQUEST_SCHEME":      "http",
		"GATEWAY_INTERFACE":   "CGI/1.1",
		"SERVER_SOFTWARE":     "gofpm",
		"REMOTE_ADDR":         "2001:db8::1",
		"REMOTE_PORT":         "51000",
		"REMOTE_USER":         "alice",
		"SERVER_ADDR":         "10.0.0.2",
		"SERVER_PORT":         "8080",
		"SERVER_NAME":         "example.com",
		"REDIRECT_STATUS":     "200",
		"HTTP_HOST":           "example.com:8080",
		"HTTP_USER_AGENT":     "curl/8",
		"HTTP_X_CUSTOM_THING": "yes",
		"HTTP_AUTHORIZATION":  "Basic YWxpY2U6c2VjcmV0",
	}
	if !maps.Equal(got, want) {
		for k := range mapsUnion(got, want) {
			if got[k] != want[k] {
				t.Errorf("%s = %q, want %q", k, got[k], want[k])
			}
		}
	}
}

func mapsUnion(a, b map[string]string) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func TestEnvFromRequest(t *testing.T) {
	tests := []struct {
		name  string
		req   func() *http.Request
		opts  EnvOptions
		want  map[string]string // subset; "<absent>" means the key must be missing
		errIs error
	}{
		{
			name: "post with body",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "/form.php", strings.NewReader("a=1&b=2"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			},
			want: map[string]string{
				"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "7",
				"CONTENT_TYPE":      "application/x-www-form-urlencoded",
				"HTTP_CONTENT_TYPE": "application/x-www-form-urlencoded",
			},
		},
		{
			name: "TLS",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "https://secure.example/", nil)
				r.TLS = &tls.ConnectionState{}
				return r
			},
			want: map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": "443", "SERVER_NAME": "secure.example"},
		},
		{
			name: "plain HTTP has no HTTPS, port from scheme",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/", nil) },
			want: map[string]string{"HTTPS": "<absent>", "REQUEST_SCHEME": "http", "SERVER_PORT": "80", "SERVER_ADDR": ""},
		},
		{
			name: "options override the defaults",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/app/index.php/user/7", nil) },
			opts: EnvOptions{
				DocumentRoot: "/srv", ScriptName: "/app/index.php", PathInfo: "/user/7",
				ServerName: "vhost", ServerAddr: "127.0.0.1", ServerPort: "9999",
			},
			want: map[string]string{
				"SCRIPT_NAME": "/app/index.php", "SCRIPT_FILENAME": "/srv/app/index.php",
				"PATH_INFO": "/user/7", "DOCUMENT_URI": "/app/index.php/user/7",
				"SERVER_NAME": "vhost", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "9999",
			},
		},
		{
			name: "explicit SCRIPT_FILENAME",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/x", nil) },
			opts: EnvOptions{DocumentRoot: "/srv", ScriptFilename: "/srv/front.php"},
			want: map[string]string{"SCRIPT_FILENAME": "/srv/front.php", "SCRIPT_NAME": "/x", "PATH_INFO": "<absent>"},
		},
		{
			name: "repeated headers joined, cookies with a semicolon",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Add("Accept", "text/html")
				r.Header.Add("Accept", "*/*")
				r.Header.Add("Cookie", "a=1")
				r.Header.Add("Cookie", "b=2")
				return r
			},
			want: map[string]string{"HTTP_ACCEPT": "text/html, */*", "HTTP_COOKIE": "a=1; b=2"},
		},
		{
			name: "trailing slash kept, slashes merged",
			req:  func() *http.Request { return httptest.NewRequest("GET", "//dir//sub/", nil) },
			opts: EnvOptions{DocumentRoot: "/srv"},
			want: map[string]string{"SCRIPT_NAME": "/dir/sub/", "DOCUMENT_URI": "/dir/sub/", "SCRIPT_FILENAME": "/srv/dir/sub/"},
		},
		{
			name: "IPv6 host",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Host = "[::1]:8080"
				return r
			},
			want: map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "8080", "HTTP_HOST": "[::1]:8080"},
		},

		// Security rows.
		{
			// httpoxy, CVE-2016-5385 (https://httpoxy.org): a client's
			// "Proxy:" header becomes HTTP_PROXY, which CGI programs and
			// libraries (PHP Guzzle, Go net/http before 1.6.3, ...) read as
			// their outgoing proxy.
			name: "httpoxy: Proxy header dropped",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Proxy", "http://evil.example:8080")
				r.Header["proxy"] = []string{"http://evil.example:8081"}
				return r
			},
			want: map[string]string{"HTTP_PROXY": "<absent>"},
		},
		{
			// Header spoofing by underscore/dash conflation, CVE-2015-0219
			// (Django WSGI advisory): "X_Auth_User" and "X-Auth-User" both
			// map to HTTP_X_AUTH_USER, so a client could override a header
			// set by a trusted proxy. nginx drops such names
			// (underscores_in_headers off).
			name: "underscore header dropped",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header["X_Auth_User"] = []string{"admin"}
				r.Header.Set("X-Auth-User", "bob")
				r.Header["X.Dot"] = []string{"1"}
				r.Header["X Space"] = []string{"1"}
				return r
			},
			want: map[string]string{"HTTP_X_AUTH_USER": "bob", "HTTP_X_DOT": "<absent>", "HTTP_X_SPACE": "<absent>"},
		},
		{
			// The nginx fastcgi_params advisory (HTTP_HOST from $host): an
			// absolute-form target with a different Host header must not
			// pass the raw Host. Go's server sets r.Host from the target.
			name: "Host header does not override r.Host",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "https://good.example/", nil)
				r.Header.Set("Host", "malformedhost")
				return r
			},
			want: map[string]string{"HTTP_HOST": "good.example", "SERVER_NAME": "good.example"},
		},
		{
			// Path traversal (CWE-22): ".." must not lead SCRIPT_FILENAME
			// out of the document root.
			name: "dot-dot stays under the document root",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.URL.Path = "/a/../../../etc/passwd"
				return r
			},
			opts: EnvOptions{DocumentRoot: "/srv/www"},
			want: map[string]string{"SCRIPT_NAME": "/etc/passwd", "SCRIPT_FILENAME": "/srv/www/etc/passwd"},
		},
		{
			// NUL byte in the path, CVE-2006-7243: PHP before 5.3.4 cut
			// paths at NUL, so "/upload.jpg%00.php" passed an extension
			// check and then ran upload.jpg.
			name: "NUL in the path refused",
			req: func() *http.Request {
				return httptest.NewRequest("GET", "/upload.jpg%00.php", nil)
			},
			errIs: ErrNULByte,
		},
		{
			// Same truncation in a header value read by C code.
			name: "NUL in a header value refused",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("X-Name", "a\x00b")
				return r
			},
			errIs: ErrNULByte,
		},
		{
			name:  "NUL in an option refused",
			req:   func() *http.Request { return httptest.NewRequest("GET", "/", nil) },
			opts:  EnvOptions{ScriptFilename: "/srv/x.jpg\x00.php"},
			errIs: ErrNULByte,
		},
		{
			name: "percent-encoded NUL in the query is passed encoded",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/?q=%00", nil) },
			want: map[string]string{"QUERY_STRING": "q=%00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EnvFromRequest(tt.req(), tt.opts)
			if !errors.Is(err, tt.errIs) {
				t.Fatalf("err %v, want %v", err, tt.errIs)
			}
			if err != nil {
				if got != nil {
					t.Error("params returned with an error")
				}
				return
			}
			for k, want := range tt.want {
				v, ok := got[k]
				if want == "<absent>" {
					if ok {
						t.Errorf("%s = %q, want absent", k, v)
					}
					continue
				}
				if !ok || v != want {
					t.Errorf("%s = %q (present %v), want %q", k, v, ok, want)
				}
			}
			for _, k := range []string{"CONTENT_LENGTH", "CONTENT_TYPE", "QUERY_STRING", "SCRIPT_FILENAME", "REDIRECT_STATUS"} {
				if _, ok := got[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/a": "/a", "/a/": "/a/", "a/b": "/a/b", "/a/./b": "/a/b",
		"/a/../b": "/b", "/..": "/", "/../": "/", "//x//y//": "/x/y/", "/a/..": "/",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppendEnvExtra: Extra's variables replace the client's header of the
// same name, each name is sent once, and HTTPS sets the scheme.
func TestAppendEnvExtra(t *testing.T) {
	r := httptest.NewRequest("GET", "/a.php", nil)
	r.Header.Set("X-Gofpm-Front", "forged")
	r.Header.Set("X-Other", "kept")
	b, err := AppendEnv(nil, r, EnvOptions{HTTPS: true, Extra: []string{"HTTP_X_GOFPM_FRONT", "1", "APP", "x", "SERVER_NAME", "evil"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	if err := ScanPairs(b, 0, func(k, v []byte) { seen[string(k)] = append(seen[string(k)], string(v)) }); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"HTTP_X_GOFPM_FRONT": "1", "APP": "x", "HTTP_X_OTHER": "kept", "HTTPS": "on", "REQUEST_SCHEME": "https"} {
		if got := seen[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want once %q", k, got, want)
		}
	}
	for k, v := range seen {
		if len(v) != 1 {
			t.Errorf("%s sent %d times: %q", k, len(v), v)
		}
	}
	if _, ok := seen["CONTENT_LENGTH"]; ok {
		t.Error("CONTENT_LENGTH is Client.Do's to send")
	}
}

// TestAppendEnvHandmadeHeader: names that only a handmade Header has
// ("x-user" beside "X-User") give one variable with both values, as
// EnvFromRequest always did.
func TestAppendEnvHandmadeHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["X-User"] = []string{"a"}
	r.Header["x-user"] = []string{"b"}
	env, err := EnvFromRequest(r, EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := env["HTTP_X_USER"]; v != "a, b" && v != "b, a" {
		t.Errorf("HTTP_X_USER = %q, want both values", v)
	}
}

// TestAppendEnvAllocatesNothing: a request as net/http's server gives it
// costs no allocation (the front's per-request path).
func TestAppendEnvAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := httptest.NewRequest("GET", "/index.php?a=1", nil)
	r.RequestURI = "/index.php?a=1"
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("X-Custom", "1")
	r.Header["Cookie"] = []string{"a=1", "b=2"}
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}))
	o := EnvOptions{DocumentRoot: "/srv/www", ScriptName: "/index.php", ServerSoftware: "gofpm", Extra: []string{"HTTP_X_GOFPM_FRONT", "1"}}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := AppendEnv(buf[:0], r, o); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}
