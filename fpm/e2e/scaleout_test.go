package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestScaleOutFailover: two gofpm masters on TCP behind one nginx upstream
// (deploy/nginx/upstream.conf's settings). SIGKILL one master under load:
// nginx keeps answering from the other, losing at most the requests in
// flight; start it again: traffic returns to both.
func TestScaleOutFailover(t *testing.T) {
	dir := shortTempDir(t)
	ports := []int{freePort(t), freePort(t)}
	pool := func(port int) string {
		return fmt.Sprintf(`
[pool.www]
listen = "127.0.0.1:%d"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
`, port)
	}
	start := func(i int) *master {
		d := filepath.Join(dir, "host"+strconv.Itoa(i))
		os.MkdirAll(d, 0o755)
		return startMaster(t, d, pool(ports[i]))
	}
	hosts := []*master{start(0), start(1)}
	for _, h := range hosts {
		h.waitUntil("2 workers", 10*time.Second, func([]logLine) bool { return len(h.children()) == 2 })
	}
	ng := startNginx(t, dir, fmt.Sprintf(`location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass gofpm;
            fastcgi_next_upstream error timeout;
            fastcgi_next_upstream_tries 2;
            fastcgi_connect_timeout 1s;
        }`), fmt.Sprintf("upstream gofpm { server 127.0.0.1:%d max_fails=1 fail_timeout=1s; server 127.0.0.1:%d max_fails=1 fail_timeout=1s; }", ports[0], ports[1]))

	var ok, failed atomic.Int64
	var mu sync.Mutex
	byHost := map[int]int{} // worker pid -> answers since the last reset
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := tryGet(ng, "http://localhost/")
				if err != nil || code != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				mu.Lock()
				byHost[pidOfBody(body)]++
				mu.Unlock()
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	progress := func(n int64) {
		from := ok.Load()
		eventually(t, 15*time.Second, "answers", func() bool { return ok.Load() >= from+n })
	}
	progress(200)
	// Kill host 0's master: its workers die with it (parent-death signal).
	failedBefore := failed.Load()
	hosts[0].cmd.Process.Kill()
	hosts[0].waitExit(5 * time.Second)
	progress(300)
	lost := failed.Load() - failedBefore
	t.Logf("failover: %d requests failed after the SIGKILL (8 clients in flight)", lost)
	if lost > 8 {
		t.Errorf("%d requests failed after the kill, want at most the 8 in flight", lost)
	}
	// Bring host 0 back: traffic returns to both.
	hosts[0] = start(0)
	hosts[0].waitUntil("2 workers", 10*time.Second, func([]logLine) bool { return len(hosts[0].children()) == 2 })
	back := hosts[0].children()
	eventually(t, 15*time.Second, "host 0 answering again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, pid := range back {
			if byHost[pid] > 0 {
				return true
			}
		}
		return false
	})
	t.Logf("%d answers, %d failed in all", ok.Load(), failed.Load())
}

func pidOfBody(body string) int {
	i := strings.Index(body, "pid=")
	if i < 0 {
		return 0
	}
	f := strings.Fields(body[i+4:])
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// tryGet is httpGet without failing the test: the load loop counts errors.
func tryGet(ng *nginx, url string) (int, string, error) {
	resp, err := ng.client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
