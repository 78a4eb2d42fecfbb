package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestReloadUnderLoad: SIGUSR2 five times while 16 clients go through real
// nginx, with requests of 500 ms in flight at each reload: not one request
// fails, the new master takes over the pid file, no old process remains.
// An invalid configuration is refused and the master keeps serving. The
// go-front case goes through gofpm's own HTTP front, whose socket each new
// master inherits.
func TestReloadUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name, pool, fast, slow string
		front                  bool // through gofpm's HTTP front instead of nginx
	}{
		{"go", `command = ["{{HELLO}}"]`, "/", "/sleep?ms=500", false},
		{"php-cgi", `command = ["/usr/bin/php-cgi8.2"]
worker_graceful_signal = "SIGTERM"`, "/hello.php", "/sleep.php", false},
		{"go-front", `command = ["{{HELLO}}"]`, "/", "/sleep?ms=500", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "php-cgi" {
				requirePHPCGI(t)
			}
			testReload(t, tc.pool, tc.fast, tc.slow, tc.front)
		})
	}
}

// testReload runs the scenario; reloads, when given, is how many reloads
// (default 5).
func testReload(t *testing.T, poolLines, fast, slow string, front bool, reloads ...int) {
	n := 5
	if len(reloads) > 0 {
		n = reloads[0]
	}
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "hello.php"), []byte(`<?php echo "hello pid=", getmypid(), "\n";`), 0o644)
	os.WriteFile(filepath.Join(dir, "sleep.php"), []byte(`<?php usleep(500000); echo "slept pid=", getmypid(), "\n";`), 0o644)
	text := `
pid = "{{DIR}}/gofpm.pid"
process_control_timeout = "10s"

[pool.www]
listen = "{{DIR}}/www.sock"
listen_mode = "0666"
` + poolLines + `
pm = "static"
pm_max_children = 4
`
	if front {
		text += "\n[http]\nlisten = \"127.0.0.1:0\"\n"
	}
	conf := writeConfig(t, dir, text)
	h := startHanded(t, dir, bins.gofpm, conf)
	cmd, current, logCount := h.cmd, h.current, h.logCount
	eventually(t, 10*time.Second, "ready", func() bool {
		return logCount("ready to handle connections") == 1 && len(childrenOf(cmd.Process.Pid)) == 4
	})
	first := cmd.Process.Pid
	oldWorkers := childrenOf(first)
	base, client := "", (*http.Client)(nil)
	if front {
		// The port the kernel picked, from the log; every later master
		// inherits that socket.
		eventually(t, 5*time.Second, "the front's address", func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "master.log"))
			if m := frontAddrRe.FindSubmatch(b); m != nil {
				base = "http://" + string(m[1])
			}
			return base != ""
		})
		client = &http.Client{Timeout: 30 * time.Second}
	} else {
		ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "www.sock")))
		base, client = "http://localhost", ng.client
	}

	var ok, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			path := fast
			if i%4 == 0 {
				path = slow
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(base + path)
				if err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					failures.Store(fmt.Sprint("status ", resp.StatusCode), true)
					continue
				}
				ok.Add(1)
			}
		})
	}
	progress := func(n int64) {
		from := ok.Load()
		eventually(t, 10*time.Second, "requests flowing", func() bool { return ok.Load() >= from+n })
	}
	progress(50)
	// An invalid configuration: refused, the master keeps serving.
	writeConfig(t, dir, strings.Replace(text, "pm_max_children = 4", "pm_max_children = 0", 1))
	syscall.Kill(current(), syscall.SIGUSR2)
	eventually(t, 5*time.Second, "the refusal", func() bool { return logCount("reload failed") > 0 })
	writeConfig(t, dir, text)
	progress(50)
	for i := 1; i <= n; i++ {
		before := current()
		syscall.Kill(before, syscall.SIGUSR2)
		eventually(t, 30*time.Second, fmt.Sprintf("reload %d", i), func() bool {
			return logCount("is ready; the old workers finish") == i && current() != before
		})
		progress(50)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		var kinds []string
		failures.Range(func(k, _ any) bool { kinds = append(kinds, k.(string)); return true })
		t.Fatalf("%d of %d requests failed across %d reloads: %v", failed.Load(), ok.Load()+failed.Load(), n, kinds)
	}
	t.Logf("%d requests, 0 failed, across %d reloads", ok.Load(), n)
	eventually(t, 15*time.Second, "the first master and its workers gone", func() bool {
		if alive(first) {
			return false
		}
		for _, pid := range oldWorkers {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(filepath.Join(dir, "www.sock")); err != nil {
		t.Errorf("socket file gone after reloads: %v", err)
	}
	if code, _ := httpGet(t, client, base+fast); code != 200 {
		t.Errorf("after the reloads: %d", code)
	}
}

var frontAddrRe = regexp.MustCompile(`HTTP front listening on ([0-9.]+:[0-9]+)`)
