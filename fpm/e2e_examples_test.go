package fpm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// exampleConfig reads examples/NAME/pool.toml and moves its listen
// addresses into dir: the HTTP front to a free port, the pool sockets from
// /tmp/gofpm-* into dir (a user's running example must not collide with
// the test). Everything else stays as written.
func exampleConfig(t *testing.T, name, dir string, more ...string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", name, "pool.toml"))
	if err != nil {
		t.Fatal(err)
	}
	r := append([]string{"127.0.0.1:8080", "127.0.0.1:0", `"/tmp/gofpm-`, `"` + dir + "/"}, more...)
	return strings.NewReplacer(r...).Replace(string(src))
}

// apiAnswer is the examples' JSON, {"lang": L, "pid": N, "query": Q}.
type apiAnswer struct {
	Lang  string `json:"lang"`
	PID   int    `json:"pid"`
	Query string `json:"query"`
}

func getAPI(t *testing.T, c *http.Client, url string) apiAnswer {
	t.Helper()
	code, body := httpGet(t, c, url)
	var a apiAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusOK || a.PID <= 0 {
		t.Fatalf("GET %s: %d %q (%v)", url, code, body, err)
	}
	return a
}

// TestLoadSpread: README's experiment (b). examples/hello/pool.toml (4
// static workers) behind its front; 40 requests from 8 clients at once are
// served by more than one worker, and only by the pool's workers. Each
// request holds its worker 20 ms (/sleep), so 8 clients cannot all be
// queued on one worker (worker_concurrency 1).
func TestLoadSpread(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, exampleConfig(t, "hello", dir, `"../../bin/hello"`, `"`+bins.hello+`"`))
	base := m.frontURL()
	eventually(t, 15*time.Second, "4 workers", func() bool { return len(m.children()) == 4 })
	c := &http.Client{Timeout: 15 * time.Second}
	var (
		mu    sync.Mutex
		count = map[int]int{}
		wg    sync.WaitGroup
		jobs  = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for range jobs {
				resp, err := c.Get(base + "/sleep?ms=20")
				if err != nil {
					t.Errorf("/sleep: %v", err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				_, p, ok := strings.Cut(strings.TrimSpace(string(body)), "pid=")
				pid, perr := strconv.Atoi(p)
				if err != nil || resp.StatusCode != http.StatusOK || !ok || perr != nil {
					t.Errorf("/sleep: %d %q %v", resp.StatusCode, body, err)
					continue
				}
				mu.Lock()
				count[pid]++
				mu.Unlock()
			}
		})
	}
	for i := range 40 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	workers := m.workerPids()
	total := 0
	for pid, n := range count {
		total += n
		if !slices.Contains(workers, pid) {
			t.Errorf("pid %d answered but is not a worker of the pool %v", pid, workers)
		}
	}
	if total != 40 || len(count) < 2 {
		t.Fatalf("40 requests from 8 clients: %d answered, by %d worker(s) %v; want 40 by at least 2", total, len(count), count)
	}
	t.Logf("requests per worker pid: %v", count)
}

// TestCGIExample: examples/cgi/pool.toml as written (only the listen
// addresses moved) with its www folder: hello.sh and hello.pl run once per
// request through the CGI bridge (a new process each time, not a worker of
// the pool, gone afterwards), and /pooled/hello.pl answers from the pooled
// workers running the same hello.pl.
func TestCGIExample(t *testing.T) {
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/perl5/5.36/FCGI.pm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("libfcgi-perl is not installed (make deps installs it)")
		}
		t.Skip("libfcgi-perl not installed")
	}
	dir := shortTempDir(t)
	www, err := filepath.Abs("../examples/cgi/www")
	if err != nil {
		t.Fatal(err)
	}
	// root = "www" and command ./www/hello.pl are relative to the config's
	// folder: the temp dir gets the example's www as a symbolic link.
	if err := os.Symlink(www, filepath.Join(dir, "www")); err != nil {
		t.Fatal(err)
	}
	m := startMaster(t, dir, exampleConfig(t, "cgi", dir))
	base := m.frontURL()
	eventually(t, 15*time.Second, "4 workers", func() bool { return len(m.children()) == 4 })
	c := &http.Client{Timeout: 15 * time.Second}

	seen := map[int]bool{}
	for _, tc := range []struct{ path, lang string }{
		{"/hello.sh", "cgi"}, {"/hello.sh", "cgi"}, {"/hello.pl", "perl"}, {"/hello.pl", "perl"},
	} {
		a := getAPI(t, c, base+tc.path+"?x=1&q=%22")
		if a.Lang != tc.lang || a.Query != "x=1&q=%22" {
			t.Errorf("%s answered %+v", tc.path, a)
		}
		if seen[a.PID] || slices.Contains(m.workerPids(), a.PID) {
			t.Errorf("%s answered from pid %d: a worker or an earlier script, not a new CGI process", tc.path, a.PID)
		}
		seen[a.PID] = true
		eventually(t, 10*time.Second, "the CGI process gone", func() bool { return !alive(a.PID) })
	}

	for range 4 {
		a := getAPI(t, c, base+"/pooled/hello.pl?y=2")
		if a.Lang != "perl" || a.Query != "y=2" || !slices.Contains(m.workerPids(), a.PID) || !alive(a.PID) {
			t.Errorf("/pooled/hello.pl answered %+v; want a live worker of the pool %v", a, m.workerPids())
		}
	}

	for path, want := range map[string]int{"/nope.sh": http.StatusNotFound, "/": http.StatusForbidden} {
		if code, body := httpGet(t, c, base+path); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
}
