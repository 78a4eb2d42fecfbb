package proto

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogEscapes: control bytes, '"' and '\' in any value become
// \xHH, as nginx writes them, so no value can end its line (a forged
// second line) or the quotes around it; the format's own text and UTF-8
// stay as they are.
func TestAccessLogEscapes(t *testing.T) {
	forged := "mallory\n127.0.0.1 - admin [1/Jan/2026] \"GET /admin\" 200"
	p := fixedParams()
	p["HTTP_AUTHORIZATION"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(forged+":pw"))
	p["REQUEST_URI"] = "/a%0Ab%5C%22%E2%82%AC?q=\"\\"
	p["HTTP_X_EVIL"] = "1\r\n2\x00\x7f"
	p["APP_ENV"] = "tab\there"
	r := captureRequest(t, p, "")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Out"] = []string{"o\nk"}
		w.WriteHeader(200)
	})
	for _, tc := range []struct{ format, want string }{
		{`%u`, `mallory\x0a127.0.0.1 - admin [1/Jan/2026] \x22GET /admin\x22 200`},
		{`"%r"`, `"/a\x0ab\x5c\x22€"`},
		{`%q`, `q=\x22\x5c`},
		{`%{HTTP_X_EVIL}e|%{APP_ENV}e|%{X-Out}o`, `1\x0d\x0a2\x00\x7f|tab\x09here|o\x0ak`},
		{"lit\t\"%s\"", "lit\t\"200\""},
	} {
		out := &countWriter{}
		fixedLog(t, tc.format, out).Wrap(h).ServeHTTP(httptest.NewRecorder(), r)
		got := out.String()
		if got != tc.want+"\n" {
			t.Errorf("%s:\n got %q\nwant %q", tc.format, got, tc.want+"\n")
		}
		if strings.Count(got, "\n") != 1 {
			t.Errorf("%s: %d lines", tc.format, strings.Count(got, "\n"))
		}
	}
}

func TestEscapeFrom(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain €", "plain €"},
		{"\n", `\x0a`},
		{"a\"b\\c", `a\x22b\x5cc`},
		{"\x00\x1f\x7f\x80", `\x00\x1f\x7f` + "\x80"},
	} {
		b := escapeFrom([]byte("pre:"+tc.in), 4)
		if string(b) != "pre:"+tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, b, "pre:"+tc.want)
		}
	}
}
