package fcgi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzAppendEnv: whatever a client puts in its path, query, Host and
// headers, AppendEnv gives well-formed pairs, each name once, no NUL byte
// in any value (or ErrNULByte), no HTTP_PROXY, header variables made of
// [A-Z0-9_] only, and a SCRIPT_FILENAME under the document root; and
// EnvFromRequest is the same variables as a map.
func FuzzAppendEnv(f *testing.F) {
	f.Add("/index.php", "a=1", "example.com", "X-Custom", "yes", "x-custom", "no")
	f.Add("/../../etc/passwd", "", "", "Proxy", "http://evil", "Cookie", "a=1")
	f.Add("//a/./b/../c.php/", "%00", "[::1]:8080", "X_User", "admin", "Host", "other")
	f.Add("/up.jpg\x00.php", "q", "h", "A", "v\x00", "B", "")
	f.Fuzz(func(t *testing.T, path, query, host, k1, v1, k2, v2 string) {
		r := &http.Request{
			Method: "GET", Proto: "HTTP/1.1", Host: host, RemoteAddr: "192.0.2.1:4000",
			URL:        &url.URL{Path: path, RawQuery: query},
			RequestURI: "/" + query,
			Header:     http.Header{k1: {v1}, k2: {v2, v1}},
		}
		const root = "/srv/www"
		b, err := AppendEnv(nil, r, EnvOptions{DocumentRoot: root, Extra: []string{"HTTP_X_GOFPM_FRONT", "1"}})
		if err != nil {
			if !errors.Is(err, ErrNULByte) {
				t.Fatalf("AppendEnv: %v", err)
			}
			return
		}
		seen := map[string]string{}
		if err := ScanPairs(b, 0, func(k, v []byte) {
			name := string(k)
			if _, dup := seen[name]; dup {
				t.Fatalf("%s sent twice", name)
			}
			seen[name] = string(v)
			if strings.IndexByte(string(v), 0) >= 0 {
				t.Fatalf("%s has a NUL byte", name)
			}
			if rest, ok := strings.CutPrefix(name, "HTTP_"); ok && strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
				t.Fatalf("header variable %q", name)
			}
		}); err != nil {
			t.Fatalf("pairs: %v", err)
		}
		if _, ok := seen["HTTP_PROXY"]; ok {
			t.Fatal("HTTP_PROXY passed")
		}
		if seen["HTTP_X_GOFPM_FRONT"] != "1" {
			t.Fatalf("HTTP_X_GOFPM_FRONT = %q", seen["HTTP_X_GOFPM_FRONT"])
		}
		sf := seen["SCRIPT_FILENAME"]
		if !strings.HasPrefix(sf, root+"/") || strings.Contains(sf, "/../") || strings.HasSuffix(sf, "/..") {
			t.Fatalf("SCRIPT_FILENAME %q leaves %s", sf, root)
		}
		env, err := EnvFromRequest(r, EnvOptions{DocumentRoot: root, Extra: []string{"HTTP_X_GOFPM_FRONT", "1"}})
		if err != nil {
			t.Fatalf("EnvFromRequest: %v where AppendEnv had none", err)
		}
		for k, v := range seen {
			if env[k] != v {
				t.Fatalf("EnvFromRequest %s = %q, AppendEnv %q", k, env[k], v)
			}
		}
		if len(env) != len(seen)+1 { // and CONTENT_LENGTH
			t.Fatalf("EnvFromRequest has %d variables, AppendEnv %d", len(env), len(seen))
		}
	})
}
