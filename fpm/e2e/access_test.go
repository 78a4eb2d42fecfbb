package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAccessLog: Go workers write the pool's access log with php-fpm's
// tokens; SIGUSR1 moves them to the reopened file.
func TestAccessLog(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
access_log = "{{DIR}}/access.log"
access_format = '%R %m %r%Q%q %s %{mili}d %n "%{HTTP_USER_AGENT}e"'

[http]
listen = "127.0.0.1:0"
default_pool = "www"
`)
	base := m.frontURL()
	c := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", base+"/env?x=1", nil)
	req.Header.Set("User-Agent", "gofpm-test")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	logPath := filepath.Join(dir, "access.log")
	line := regexp.MustCompile(`^- GET /env\?x=1 200 \d+\.\d{3} www "gofpm-test"\n$`)
	eventually(t, 5*time.Second, "the access line", func() bool {
		b, _ := os.ReadFile(logPath)
		return line.Match(b)
	})
	// logrotate: move the file away, SIGUSR1, the next line goes to a new file.
	os.Rename(logPath, logPath+".1")
	old := m.children()
	m.cmd.Process.Signal(syscall.SIGUSR1)
	m.waitFor("access log file re-opened", 5*time.Second)
	m.waitUntil("the worker recycled", 5*time.Second, func([]logLine) bool {
		k := m.children()
		return len(k) == 1 && len(old) == 1 && k[0] != old[0]
	})
	httpGet(t, c, base+"/after")
	eventually(t, 5*time.Second, "a line in the new file", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "GET /after 200")
	})
}
