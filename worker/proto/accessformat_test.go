package proto

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Handlers of the table.
var (
	// notFound sets headers, writes 404 and a body.
	notFound = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Cache", "HIT")
		w.Header()["x-raw"] = []string{"raw"}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "nope")
	})
	// silent writes nothing.
	silent = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	// bodyOnly writes a body without a status.
	bodyOnly = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache", "MISS")
		io.WriteString(w, "ok")
	})
	// late sets a header after the status, which net/http ignores.
	late = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Header().Set("X-Cache", "LATE")
	})
	// flusher flushes before writing anything.
	flusher = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache", "FLUSH")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Cache", "AFTER")
	})
)

func TestAccessLogFormat(t *testing.T) {
	full := captureRequest(t, fixedParams(), "hello")
	plainParams := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.0"}
	plain := captureRequest(t, plainParams, "")
	const peerNone = "none"
	for _, tc := range []struct {
		format string
		want   string
		h      http.Handler  // notFound when nil
		r      *http.Request // full when nil
		peer   string        // "-" when empty; peerNone: accepted never called
	}{
		// php-fpm's default, and the example of its www.conf.
		{format: `%R - %u %t "%m %r" %s`, want: `- - al\x22i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, peer: peerNone, want: `198.51.100.7 - al\x22i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, peer: "127.0.0.1", want: `127.0.0.1 - al\x22i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php" 404`},
		{format: `%R - %u %t "%m %r" %s`, r: plain, h: silent, want: `- -  26/Nov/2026:00:47:51 +0100 "GET /" 200`},
		{format: `%R - %u %t "%m %r" %s`, r: plain, h: silent, peer: peerNone, want: `- -  26/Nov/2026:00:47:51 +0100 "GET /" 200`},
		{
			format: `%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%`,
			want:   `- - al\x22i<ce> 26/Nov/2026:00:47:51 +0100 "POST /app/index.php?a=1&b=2" 404 /srv/www/app/index.php 1234.567 7172 48.60%`,
		},

		// %C
		{format: "%C", want: "48.60"},
		{format: "%{total}C", want: "48.60"},
		{format: "%{user}C", want: "40.50"},
		{format: "%{system}C", want: "8.10"},
		// %d
		{format: "%d", want: "1.235"},
		{format: "%{seconds}d", want: "1.235"},
		{format: "%{milliseconds}d %{milli}d %{miliseconds}d %{mili}d", want: "1234.567 1234.567 1234.567 1234.567"},
		{format: "%{microseconds}d %{micro}d", want: "1234567 1234567"},
		// %e: kept params, and the ones net/http/fcgi consumes.
		{format: "%{APP_ENV}e %{REMOTE_USER}e %{SCRIPT_FILENAME}e %{NOPE}e", want: "prod bob /srv/www/app/index.php -"},
		{format: "%{REMOTE_ADDR}e %{REMOTE_PORT}e", want: "198.51.100.7 51234"},
		{format: "%{HTTP_HOST}e %{HTTP_USER_AGENT}e %{HTTP_X_FORWARDED_FOR}e %{HTTP_NOPE}e", want: "example.test curl/8.5 10.0.0.1 -"},
		{format: "%{REQUEST_METHOD}e %{REQUEST_URI}e %{QUERY_STRING}e %{SCRIPT_NAME}e", want: "POST /app/index.php?a=1&b=2 a=1&b=2 /app/index.php"},
		{format: "%{CONTENT_TYPE}e %{CONTENT_LENGTH}e %{SERVER_PROTOCOL}e", want: "text/plain 5 HTTP/1.1"},
		{format: "%{HTTPS}e %{PATH_INFO}e %{REMOTE_HOST}e", want: "- - -"},
		{format: "%{REMOTE_ADDR}e %{REMOTE_PORT}e %{CONTENT_LENGTH}e [%{QUERY_STRING}e] %{HTTP_HOST}e", r: plain, want: "- - - [] -"},
		// %f %l %m
		{format: "%f %l %m", want: "/srv/www/app/index.php 5 POST"},
		{format: "%f %l %m", r: plain, want: "- 0 GET"},
		// %M
		{format: "%M %{bytes}M", want: "7344128 7344128"},
		{format: "%{kilobytes}M %{kilo}M", want: "7172 7172"},
		{format: "%{megabytes}M %{mega}M", want: "7 7"},
		// %n %p %P
		{format: "%n %p %P", want: "www 14978 14974"},
		// %o: as the handler set them when it wrote the status.
		{format: "%{Content-Type}o|%{X-Cache}o|%{x-cache}o|%{x-raw}o|%{Date}o|%{X-None}o", want: "text/plain; charset=utf-8|HIT|HIT|raw|-|-"},
		{format: "%{Content-Type}o %{X-Cache}o %s", h: silent, want: "- - 200"},
		{format: "%{Content-Type}o %{X-Cache}o %s", h: bodyOnly, want: "- MISS 200"},
		{format: "%{X-Cache}o %s", h: late, want: "- 500"},
		{format: "%{X-Cache}o %s", h: flusher, want: "FLUSH 200"},
		// %q %Q %r
		{format: "%r%Q%q", want: "/app/index.php?a=1&b=2"},
		{format: "[%r%Q%q]", r: plain, want: "[/]"},
		// %s
		{format: "%s", want: "404"},
		// %t %T
		{format: "%t|%T", want: "26/Nov/2026:00:47:51 +0100|26/Nov/2026:00:47:52 +0100"},
		{format: "%{}t", want: "26/Nov/2026:00:47:51 +0100"},
		{format: "%{%Y-%m-%dT%H:%M:%S%z}t", want: "2026-11-26T00:47:51+0100"},
		{format: "%{%s}T %{%H:%M:%S %Z}T", want: "1795650472 00:47:52 CET"},
		// %u
		{format: "[%u]", r: plain, want: "[]"},
		// %% and literals
		{format: "%%", want: "%"},
		{format: "pct=%%%C%% lit", want: "pct=%48.60% lit"},
		{format: "no tokens at all", want: "no tokens at all"},
		{format: "", want: ""},
		{format: "%u%q", r: plain, want: ""},
	} {
		out := &countWriter{}
		a := fixedLog(t, tc.format, out)
		switch tc.peer {
		case peerNone:
		case "":
			a.Accepted(&fakeConn{local: &net.UnixAddr{Name: "/run/w.sock", Net: "unix"}, remote: &net.UnixAddr{Net: "unix"}})
		default:
			a.Accepted(&fakeConn{local: tcpAddr("127.0.0.1:9000"), remote: tcpAddr(tc.peer + ":40000")})
		}
		h, r, checkAnswer := tc.h, tc.r, tc.h == nil
		if h == nil {
			h = notFound
		}
		if r == nil {
			r = full
		}
		rw := httptest.NewRecorder()
		a.Wrap(h).ServeHTTP(rw, r)
		want, writes := tc.want+"\n", 1
		if tc.want == "" {
			want, writes = "", 0 // no empty lines
		}
		if got := out.String(); got != want || out.writes != writes {
			t.Errorf("%s:\n got %q in %d writes\nwant %q", tc.format, got, out.writes, want)
		}
		if checkAnswer && (rw.Code != 404 || rw.Body.String() != "nope") {
			t.Errorf("%s: the handler's answer was %d %q", tc.format, rw.Code, rw.Body)
		}
	}
}

// TestAccessLogLineLimit: lines are at most 1024 bytes plus the newline;
// longer ones end with "...".
func TestAccessLogLineLimit(t *testing.T) {
	long := strings.Repeat("a", 5000)
	params := fixedParams()
	params["HTTP_X_LONG"] = long
	params["APP_LONG"] = long
	r := captureRequest(t, params, "")
	for _, tc := range []struct {
		format string
		want   string
	}{
		{strings.Repeat("x", 1024), strings.Repeat("x", 1024)},
		{strings.Repeat("x", 1025), strings.Repeat("x", 1021) + "..."},
		{strings.Repeat("x", 1023) + "%s", strings.Repeat("x", 1021) + "..."},
		{"%{HTTP_X_LONG}e", strings.Repeat("a", 1021) + "..."},
		{"%{APP_LONG}e %s %{HTTP_X_LONG}e", strings.Repeat("a", 1021) + "..."},
		{"%s %{HTTP_X_LONG}e", "404 " + strings.Repeat("a", 1017) + "..."},
		// A character is not cut in two.
		{strings.Repeat("x", 1020) + "éééé", strings.Repeat("x", 1020) + "..."},
	} {
		out := &countWriter{}
		fixedLog(t, tc.format, out).Wrap(notFound).ServeHTTP(httptest.NewRecorder(), r)
		if got := out.String(); got != tc.want+"\n" || out.writes != 1 {
			t.Errorf("%.20s…: got %d bytes %.30q…%q, want %d bytes", tc.format, len(got), got, got[max(len(got)-10, 0):], len(tc.want)+1)
		}
	}
}

func TestAccessLogBadFormat(t *testing.T) {
	for _, tc := range []struct{ format, err string }{
		{"%R %Z", "invalid token %Z"},
		{"%é", "invalid token %é"},
		{"%{x}s", "embrace is not allowed for modifier %s"},
		{"%{x}%", "embrace is not allowed for modifier %%"},
		{"%e", "%e needs an argument, as in %{NAME}e"},
		{"%{}o", "%o needs an argument, as in %{NAME}o"},
		{"%{hours}d", "%{hours}d: the argument must be one of seconds, milliseconds, milli, miliseconds, mili, microseconds, micro"},
		{"%{}C", "%{}C: the argument must be one of total, user, system"},
		{"%{KILO}M", "%{KILO}M: the argument must be one of bytes, kilobytes, kilo, megabytes, mega"},
		{"abc%", "the format ends in the middle of a token (write %% for a literal %)"},
		{"%{kilo}", "the format ends in the middle of a token (write %% for a literal %)"},
		{"%{abc", `missing "}" after "%{abc"`},
	} {
		_, err := compileAccessFormat(tc.format)
		if err == nil || err.Error() != "worker: access format: "+tc.err {
			t.Errorf("%q: error %v, want %q", tc.format, err, tc.err)
		}
	}
}

// fakeConn is a net.Conn with the given addresses.
