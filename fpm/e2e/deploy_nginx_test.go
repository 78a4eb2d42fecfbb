package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeployNginxConf: deploy/nginx/gofpm.conf's server block, with only
// its listen, server_name and root lines left to the harness and the
// socket moved to a temp dir, in front of a real gofpm pool: a request
// reaches a worker, a .php path that does not exist is nginx's 404 (it
// never reaches the pool), and the status page answers from this machine.
func TestDeployNginxConf(t *testing.T) {
	b, err := os.ReadFile("../../deploy/nginx/gofpm.conf")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)server \{\n(.*)\n\}`).FindStringSubmatch(string(b))
	if body == nil {
		t.Fatal("deploy/nginx/gofpm.conf: no server block")
	}
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "www.sock")
	var kept []string
	for _, line := range strings.Split(body[1], "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "listen" || f[0] == "server_name" || f[0] == "root") {
			continue // the harness's own
		}
		line = strings.ReplaceAll(line, "unix:/run/gofpm/www.sock", "unix:"+sock)
		line = strings.ReplaceAll(line, "include fastcgi_params;", "include /etc/nginx/fastcgi_params;")
		kept = append(kept, line)
	}
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
ping_path = "/ping"
`)
	m.waitFor("ready to handle connections", 10*time.Second)
	n := startNginx(t, dir, strings.Join(kept, "\n"))
	if code, body := httpGet(t, n.client, "http://localhost/"); code != 200 || !strings.HasPrefix(body, "hello from gofpm worker") {
		t.Fatalf("GET /: %d %q", code, body)
	}
	if code, _ := httpGet(t, n.client, "http://localhost/missing.php/x"); code != 404 {
		t.Fatalf("GET /missing.php/x: %d, want nginx's 404 (try_files)", code)
	}
	// The harness's nginx listens on a Unix socket: nginx sees the client
	// as "unix:", which "allow 127.0.0.1" does not match, so the page is
	// refused here, as it would be for any client not on this machine.
	if code, _ := httpGet(t, n.client, "http://localhost/status"); code != 403 {
		t.Fatalf("GET /status over a Unix socket: %d, want 403 (allow 127.0.0.1 only)", code)
	}
}
