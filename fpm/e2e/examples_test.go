package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The examples run here as they are written: exampleTree lays out a
// checkout's folders in the temp dir so that every relative path of a
// pool.toml resolves as it does under examples/, and only the listen
// addresses move (the front to a free port, the sockets into the temp dir,
// so that a user's running example does not collide with the test).

// exampleTree lays out, in dir, what examples/NAME's pool.toml reaches
// through relative paths: dir/bin (the test's hello, hello-c built here
// when withC, hello-csharp.exe for csharp and polyglot), dir/examples/* as
// symbolic links to the real folders,
// and dir/examples/NAME with links to everything in the real one but
// pool.toml. It returns dir/examples/NAME, where the config is written.
func exampleTree(t *testing.T, dir, name string, withC bool) string {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ex, err := filepath.Abs("../../examples")
	must(err)
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.Symlink(bins.hello, filepath.Join(dir, "bin", "hello")))
	if name == "csharp" || name == "polyglot" {
		buildCSharp(t, filepath.Join(dir, "bin", "hello-csharp.exe"))
	}
	if withC {
		if _, err := os.Stat("/usr/include/fcgiapp.h"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("libfcgi-dev is not installed (make deps installs it)")
			}
			t.Skip("libfcgi-dev not installed")
		}
		out, err := exec.Command("cc", "-O2", "-o", filepath.Join(dir, "bin", "hello-c"), filepath.Join(ex, "c", "hello.c"), "-lfcgi").CombinedOutput()
		if err != nil {
			t.Fatalf("building the C example: %v %s", err, out)
		}
	}
	ents, err := os.ReadDir(ex)
	must(err)
	must(os.MkdirAll(filepath.Join(dir, "examples"), 0o755))
	for _, e := range ents {
		if e.Name() != name {
			must(os.Symlink(filepath.Join(ex, e.Name()), filepath.Join(dir, "examples", e.Name())))
		}
	}
	here := filepath.Join(dir, "examples", name)
	must(os.Mkdir(here, 0o755))
	ents, err = os.ReadDir(filepath.Join(ex, name))
	must(err)
	for _, e := range ents {
		if e.Name() != "pool.toml" {
			must(os.Symlink(filepath.Join(ex, name, e.Name()), filepath.Join(here, e.Name())))
		}
	}
	return here
}

var frontAddr = regexp.MustCompile(`127\.0\.0\.1:80[0-9][0-9]`)

// moveListen rewrites the examples' listen addresses: 127.0.0.1:80xx to
// port 0, /tmp/gofpm-X.sock to dir/X.sock.
func moveListen(s, dir string) string {
	s = frontAddr.ReplaceAllString(s, "127.0.0.1:0")
	return strings.ReplaceAll(s, "/tmp/gofpm-", dir+"/")
}

// startExample runs examples/NAME/pool.toml as written but for the listen
// addresses, from a tree like a checkout's. It returns the master and the
// temp dir the sockets are in.
func startExample(t *testing.T, name string, withC bool) (*master, string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../..", "examples", name, "pool.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := shortTempDir(t)
	here := exampleTree(t, dir, name, withC)
	return startMaster(t, here, moveListen(string(src), dir)), dir
}

func requirePerlFCGI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/perl5/5.36/FCGI.pm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("libfcgi-perl is not installed (make deps installs it)")
		}
		t.Skip("libfcgi-perl not installed")
	}
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

// TestLoadSpread: README's experiment b. examples/hello/pool.toml (4
// static workers) behind its front; 40 requests from 8 clients at once are
// served by more than one worker, and only by the pool's workers. Each
// request holds its worker 20 ms (/sleep), so 8 clients cannot all be
// queued on one worker (worker_concurrency 1).
func TestLoadSpread(t *testing.T) {
	m, _ := startExample(t, "hello", false)
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
// addresses moved): hello.sh and hello.pl run once per request through the
// CGI bridge (a new process each time, not a worker of the pool, gone
// afterwards), and /pooled/hello.pl answers from the pooled workers
// running the same hello.pl.
func TestCGIExample(t *testing.T) {
	requirePerlFCGI(t)
	m, _ := startExample(t, "cgi", false)
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

var (
	readmeRun        = regexp.MustCompile("cd examples/([a-z]+) && \\.\\./\\.\\./bin/gofpm -c pool\\.toml")
	readmeCurl       = regexp.MustCompile(`curl [^'"]*['"](http://127\.0\.0\.1:[0-9]+[^'"]*)['"]`)
	readmeFor        = regexp.MustCompile(`for ([a-z]+) in ([^;]+); do`)
	readmeNginxBlock = regexp.MustCompile("(?s)```nginx\n(.*?)```")
)

// TestExampleREADMEs: every example's README says how to run it
// (cd examples/X && ../../bin/gofpm -c pool.toml); its curl lines answer
// through the front, and its nginx locations, put in a server block, answer
// the same paths from the same pools.
func TestExampleREADMEs(t *testing.T) {
	for _, name := range []string{"hello", "php", "c", "perl", "python", "cgi", "csharp", "ruby", "node", "polyglot"} {
		t.Run(name, func(t *testing.T) {
			withC := name == "c" || name == "polyglot"
			if name == "php" || name == "polyglot" {
				requirePHPCGI(t)
			}
			if name == "perl" || name == "cgi" || name == "polyglot" {
				requirePerlFCGI(t)
			}
			requireLanguages(t, exampleLanguages(name)...)
			b, err := os.ReadFile(filepath.Join("../..", "examples", name, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			readme := string(b)
			if run := readmeRun.FindStringSubmatch(readme); run == nil || run[1] != name {
				t.Errorf("README.md does not say how to run it: want a line with %q", "cd examples/"+name+" && ../../bin/gofpm -c pool.toml")
			}
			var paths []string
			for _, line := range strings.Split(readme, "\n") {
				for _, cm := range readmeCurl.FindAllStringSubmatch(line, -1) {
					raw := cm[1]
					vals := []string{""}
					if f := readmeFor.FindStringSubmatch(line); f != nil {
						vals = strings.Fields(f[2])
						raw = strings.ReplaceAll(raw, "$"+f[1], "%s")
					}
					for _, v := range vals {
						u, err := url.Parse(strings.ReplaceAll(raw, "%s", v))
						if err != nil {
							t.Fatalf("README.md: %q: %v", raw, err)
						}
						paths = append(paths, u.RequestURI())
					}
				}
			}
			nb := readmeNginxBlock.FindStringSubmatch(readme)
			if len(paths) == 0 || nb == nil {
				t.Fatalf("README.md: want curl lines and an nginx block; found %d curl URLs, nginx block %v", len(paths), nb != nil)
			}
			check := func(via string, c *http.Client, base, p string) {
				t.Helper()
				code, body := httpGet(t, c, base+p)
				if code != http.StatusOK || strings.TrimSpace(body) == "" {
					t.Errorf("%s %s: %d %q", via, p, code, body)
					return
				}
				if strings.HasPrefix(body, "{") {
					var a apiAnswer
					u, _ := url.Parse(p)
					if err := json.Unmarshal([]byte(body), &a); err != nil || a.PID <= 0 || a.Query != u.RawQuery {
						t.Errorf("%s %s: %q (%v)", via, p, body, err)
					}
				}
			}

			m, dir := startExample(t, name, withC)
			base := m.frontURL()
			c := &http.Client{Timeout: 15 * time.Second}
			for _, p := range paths {
				check("front", c, base, p)
			}

			n := readmeNginx(t, name, dir)
			for _, p := range paths {
				check("nginx", n.client, "http://localhost", p)
			}
		})
	}
}

// readmeNginx starts nginx with the locations of examples/NAME/README.md's
// nginx block as written, but for the socket paths (moved into dir, as
// startExample moves them) and the checkout's place; "include
// fastcgi_params" is read next to nginx.conf, as in /etc/nginx.
func readmeNginx(t *testing.T, name, dir string) *nginx {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repo, "examples", name, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	nb := readmeNginxBlock.FindSubmatch(b)
	if nb == nil {
		t.Fatalf("examples/%s/README.md has no nginx block", name)
	}
	snippet := strings.ReplaceAll(moveListen(string(nb[1]), dir), "/path/to/gofpm", repo)
	params, err := os.ReadFile("/etc/nginx/fastcgi_params")
	if err != nil {
		t.Skipf("nginx's fastcgi_params: %v (make deps installs nginx)", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "nginx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx", "fastcgi_params"), params, 0o644); err != nil {
		t.Fatal(err)
	}
	return startNginx(t, dir, snippet)
}
