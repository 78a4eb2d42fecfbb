package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFrontRoutesStaticPathInfo: [[http.route]] prefixes pick the pool,
// static files are served from root without a worker, index files run,
// PATH_INFO is split after an existing script.
func TestFrontRoutesStaticPathInfo(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	www := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(www, "sub"), 0o755)
	os.WriteFile(filepath.Join(www, "static.txt"), []byte("plain file\n"), 0o644)
	os.WriteFile(filepath.Join(www, "index.php"), []byte(`<?php echo "index pid=", getmypid(), "\n";`), 0o644)
	os.WriteFile(filepath.Join(www, "info.php"), []byte(`<?php echo "script=", $_SERVER["SCRIPT_NAME"], " path_info=", $_SERVER["PATH_INFO"] ?? "", "\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
command = ["`+phpCGI+`"]
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = 1

[pool.go]
listen = "{{DIR}}/go.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1

[http]
listen = "127.0.0.1:0"
root = "{{DIR}}/www"
default_pool = "php"

[[http.route]]
prefix = "/api/go"
pool = "go"
`)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct{ path, prefix string }{
		{"/static.txt", "plain file"},
		{"/", "index pid="},
		{"/info.php/extra/path", "script=/info.php path_info=/extra/path"},
		{"/api/go/anything", `{"lang":"go"`},
		{"/api/go", `{"lang":"go"`},
	} {
		code, body := httpGet(t, c, base+tc.path)
		if code != 200 || !strings.HasPrefix(body, tc.prefix) {
			t.Errorf("GET %s = %d %q, want 200 %q...", tc.path, code, body, tc.prefix)
		}
	}
	// A prefix matches at path boundaries only: /api/gopher is PHP's.
	if code, body := httpGet(t, c, base+"/api/gopher"); strings.HasPrefix(body, `{"lang":"go"`) {
		t.Errorf("/api/gopher went to the go pool: %d %q", code, body)
	}
}
