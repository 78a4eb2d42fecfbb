package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPolyglot: examples/polyglot/pool.toml — the same JSON interface from
// Go, PHP, C (libfcgi), Perl (FCGI), Python (standard library) and a shell
// CGI script through the bridge, six pools behind the front.
func TestPolyglot(t *testing.T) {
	requirePHPCGI(t)
	if _, err := os.Stat("/usr/include/fcgiapp.h"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("libfcgi-dev is not installed (make deps installs it)")
		}
		t.Skip("libfcgi-dev not installed")
	}
	dir := shortTempDir(t)
	helloC := filepath.Join(dir, "hello-c")
	if out, err := exec.Command("cc", "-O2", "-o", helloC, "../../examples/c/hello.c", "-lfcgi").CombinedOutput(); err != nil {
		t.Fatalf("building the C example: %v %s", err, out)
	}
	src, err := os.ReadFile("../../examples/polyglot/pool.toml")
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := filepath.Abs("../../examples")
	conf := strings.NewReplacer(
		"/tmp/gofpm-polyglot-", dir+"/",
		"127.0.0.1:8080", "127.0.0.1:0",
		`"../../bin/hello-c"`, `"`+helloC+`"`,
		`"../../bin/hello"`, `"`+bins.hello+`"`,
		`"../perl/hello.pl"`, `"`+ex+`/perl/hello.pl"`,
		`"../python/hello.py"`, `"`+ex+`/python/hello.py"`,
		`root = "www"`, `root = "`+ex+`/polyglot/www"`,
	).Replace(string(src))
	m := startMaster(t, dir, conf)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, lang := range []string{"go", "php", "c", "perl", "python", "cgi"} {
		code, body := httpGet(t, c, base+"/api/"+lang+"?x=1&lang="+lang)
		var got struct {
			Lang  string `json:"lang"`
			PID   int    `json:"pid"`
			Query string `json:"query"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 {
			t.Errorf("/api/%s: %d %q %v", lang, code, body, err)
			continue
		}
		if got.Lang != lang || got.PID <= 0 || got.Query != "x=1&lang="+lang {
			t.Errorf("/api/%s answered %+v", lang, got)
		}
	}
}
