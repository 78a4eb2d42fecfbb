package e2e

// dispatch = "master" (issue 13): the master accepts on the pool's socket
// and relays each request to a php-cgi worker on its private socket.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dispatchPHP starts a php-cgi pool with dispatch = "master" (extra keys
// appended to the pool) behind nginx, with index.php, slow.php (sleeps
// ?s seconds) and a status page at /status.
func dispatchPHP(t *testing.T, extra string) (*master, *nginx, string) {
	t.Helper()
	return dispatchPHPBehind(t, extra, "")
}

// dispatchPHPBehind is dispatchPHP with nginx's location block (""
// for fastcgiLocation) and extra http-level lines.
func dispatchPHPBehind(t *testing.T, extra, location string, nginxHTTP ...string) (*master, *nginx, string) {
	t.Helper()
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	files := map[string]string{
		"index.php": `<?php echo "pid=", getmypid(), "\n";`,
		"slow.php":  `<?php usleep((int)(1000000 * (float)($_GET["s"] ?? 1))); echo "slept pid=", getmypid(), "\n";`,
		"note.txt":  `<?php echo "this text must not run";`,
		"busy.php":  `<?php $end = microtime(true) + (float)($_GET["s"] ?? 1); while (microtime(true) < $end) {} echo "done\n";`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
listen_mode = "0666"
command = ["`+phpCGI+`"]
dispatch = "master"
pm_status_path = "/status"
worker_graceful_signal = "SIGTERM"
`+extra)
	if location == "" {
		location = fastcgiLocation(filepath.Join(dir, "php.sock"))
	}
	for i := range nginxHTTP {
		nginxHTTP[i] = strings.ReplaceAll(nginxHTTP[i], "{{DIR}}", dir)
	}
	ng := startNginx(t, dir, strings.ReplaceAll(location, "{{DIR}}", dir), nginxHTTP...)
	return m, ng, dir
}

// nginxStatus reads the status page as JSON through nginx.
func nginxStatus(t *testing.T, ng *nginx, query string) map[string]any {
	t.Helper()
	code, body := httpGet(t, ng.client, "http://localhost/status?json"+query)
	var st map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("status = %d %q", code, body)
	}
	return st
}

func num(st map[string]any, key string) int {
	f, _ := st[key].(float64)
	return int(f)
}

// load sends GETs of url from c goroutines until stop is closed,
// returning how many got each status (0: transport error).
func load(ng *nginx, url string, c int, stop <-chan struct{}) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code := 0
				if resp, err := ng.client.Get(url); err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				got[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}

// after is a channel closed after d.
func after(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(d, func() { close(ch) })
	return ch
}

func TestDispatchAcceptedExact(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 2\n")
	kids := m.children()
	code, body := httpGet(t, ng.client, "http://localhost/index.php")
	if code != 200 || !slices.Contains(kids, pidOf(t, body)) {
		t.Fatalf("GET index.php = %d %q (children %v)", code, body, kids)
	}
	before := num(nginxStatus(t, ng, ""), "accepted conn") // counts itself
	got := load(ng, "http://localhost/index.php", 8, after(2*time.Second))
	sent := 0
	for code, n := range got {
		if code != 200 {
			t.Errorf("%d answers with status %d", n, code)
		}
		sent += n
	}
	st := nginxStatus(t, ng, "")
	// Every request nginx sent, and the two status requests, exactly.
	if a := num(st, "accepted conn"); a != before+sent+1 {
		t.Fatalf("accepted conn %d, want %d (before %d + %d sent + this status request)", a, before+sent+1, before, sent)
	}
	if num(st, "idle processes") != 2 || num(st, "active processes") != 0 {
		t.Fatalf("after the load: %v", st)
	}
	t.Logf("%d requests in 2 s through the master", sent)
}

func TestDispatchFullStatusShowsRequest(t *testing.T) {
	_, ng, dir := dispatchPHP(t, "pm = \"static\"\npm_max_children = 2\n")
	slow := getAsync(ng.client, "http://localhost/slow.php?s=2")
	want := filepath.Join(dir, "slow.php")
	var last time.Duration
	eventually(t, 5*time.Second, "the slow request in ?full", func() bool {
		st := nginxStatus(t, ng, "&full")
		procs, _ := st["processes"].([]any)
		for _, p := range procs {
			p := p.(map[string]any)
			if p["state"] == "Running" && p["request uri"] == "/slow.php?s=2" && p["script"] == want {
				last = time.Duration(num(p, "request duration")) * time.Microsecond
				return true
			}
		}
		return false
	})
	if num(nginxStatus(t, ng, ""), "active processes") != 1 {
		t.Fatal("the slow request's worker is not the one active process")
	}
	// Every format shows the request (openmetrics has no process rows in
	// php-fpm: it shows the active process), and its duration grows.
	jsonScript := strings.ReplaceAll(want, "/", `\/`)
	formats := map[string][]string{
		"":             {`request URI:\s+/slow.php\?s=2`, `script:\s+` + regexp.QuoteMeta(want), `state:\s+Running`},
		"&json":        {`"request uri":"\\/slow.php\?s=2"`, regexp.QuoteMeta(`"script":"` + jsonScript + `"`)},
		"&xml":         {`<request-uri>/slow.php\?s=2</request-uri>`, `<script>` + regexp.QuoteMeta(want) + `</script>`},
		"&html":        {`/slow.php\?s=2`, regexp.QuoteMeta(want)},
		"&openmetrics": {`phpfpm_active_processes 1\n`},
	}
	for q, res := range formats {
		code, body := httpGet(t, ng.client, "http://localhost/status?full"+q)
		for _, re := range res {
			if code != 200 || !regexp.MustCompile(re).MatchString(body) {
				t.Errorf("status?full%s = %d, no %s in:\n%s", q, code, re, body)
			}
		}
	}
	eventually(t, 3*time.Second, "a longer duration", func() bool {
		st := nginxStatus(t, ng, "&full")
		for _, p := range st["processes"].([]any) {
			p := p.(map[string]any)
			if p["request uri"] == "/slow.php?s=2" && p["state"] == "Running" {
				return time.Duration(num(p, "request duration"))*time.Microsecond > last
			}
		}
		return false
	})
	if a := <-slow; a.code != 200 || !strings.HasPrefix(a.body, "slept") {
		t.Fatalf("slow request: %d %q", a.code, a.body)
	}
}

func TestDispatchQueueRefuses(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\npm_max_queue = 2\nrequest_queue_timeout = \"500ms\"\n"+
		"[http]\nlisten = \"127.0.0.1:0\"\nroot = \"{{DIR}}\"\ndefault_pool = \"php\"\nmetrics_path = \"/metrics\"\n")
	// One runs for 1.5 s, two may wait (and time out after 0.5 s), the
	// rest are refused at once; none hangs.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var slowest atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			s := "0.05"
			if i == 0 {
				s = "1.5"
			}
			start := time.Now()
			code := 0
			if resp, err := ng.client.Get("http://localhost/slow.php?s=" + s); err == nil {
				code = resp.StatusCode
				if code == 503 && resp.Header.Get("Retry-After") == "" {
					code = -503
				}
				resp.Body.Close()
			}
			if i != 0 {
				slowest.Store(max(slowest.Load(), int64(time.Since(start))))
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
		if i == 0 {
			time.Sleep(200 * time.Millisecond) // load shape, not synchronisation: the slow one starts first
		}
	}
	wg.Wait()
	if codes[200] != 1 || codes[503] != 7 {
		t.Fatalf("answers %v, want 1×200 and 7×503 with Retry-After", codes)
	}
	if d := time.Duration(slowest.Load()); d > 1200*time.Millisecond {
		t.Fatalf("a refused request took %s (queue timeout 500ms)", d)
	}
	// The counts say how many were refused, and why.
	_, metrics := httpGet(t, &http.Client{Timeout: 5 * time.Second}, m.frontURL()+"/metrics")
	full := regexp.MustCompile(`gofpm_queue_refused_total\{pool="php",reason="full"\} (\d+)`).FindStringSubmatch(metrics)
	timedOut := regexp.MustCompile(`gofpm_queue_refused_total\{pool="php",reason="timeout"\} (\d+)`).FindStringSubmatch(metrics)
	if full == nil || timedOut == nil || full[1]+"+"+timedOut[1] != "5+2" ||
		!strings.Contains(metrics, `gofpm_answers_total{code="503",pool="php"} 7`) {
		t.Fatalf("metrics do not count 5 refused (queue full) + 2 timed out, 7 answers 503:\n%s", metrics)
	}
}

func TestDispatchSecurityLimitExtensions(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\nsecurity_limit_extensions = [\".php\"]\n")
	if code, body := httpGet(t, ng.client, "http://localhost/note.txt"); code != 403 || strings.Contains(body, "must not run") {
		t.Fatalf("GET note.txt = %d %q, want 403", code, body)
	}
	m.waitFor("note.txt' has been denied (see security_limit_extensions)", 5*time.Second)
	if code, _ := httpGet(t, ng.client, "http://localhost/index.php"); code != 200 {
		t.Fatalf("GET index.php = %d", code)
	}
}

// TestDispatchKeptConnectionsDoNotPin: nginx keeps 8 connections to the
// pool (fastcgi_keep_conn on, keepalive 8) and the pool has 2 workers: in
// the socket mode a php-cgi worker stays on the kept connection it
// accepted, and requests on the other six wait in the backlog until nginx
// gives up; through the master every request finds a worker.
func TestDispatchKeptConnectionsDoNotPin(t *testing.T) {
	_, ng, _ := dispatchPHPBehind(t, "pm = \"static\"\npm_max_children = 2\n", `location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_keep_conn on;
            fastcgi_read_timeout 3s;
            fastcgi_pass php;
        }`, "upstream php { server unix:{{DIR}}/php.sock; keepalive 8; }")
	for round := range 10 {
		var wg sync.WaitGroup
		var bad atomic.Int64
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				if resp, err := ng.client.Get("http://localhost/index.php"); err != nil || resp.StatusCode != 200 {
					bad.Add(1)
				} else {
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 || time.Since(start) > 2*time.Second {
			t.Fatalf("round %d: %d of 8 failed, took %s", round, bad.Load(), time.Since(start))
		}
	}
}

// TestDispatchKillChaos: under load, a random worker gets SIGKILL every
// 0.5 s; only requests running in a killed worker may fail (at most one
// each: php-cgi serves one at a time), none that waited.
func TestDispatchKillChaos(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 4\n")
	stop := make(chan struct{})
	answers := make(chan map[int]int, 1)
	go func() { answers <- load(ng, "http://localhost/slow.php?s=0.02", 8, stop) }()
	kills := 0
	tick := time.NewTicker(500 * time.Millisecond)
	for range 6 {
		<-tick.C
		kids := m.children()
		if len(kids) == 0 {
			continue
		}
		pid := kids[time.Now().UnixNano()%int64(len(kids))]
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			kills++
		}
	}
	tick.Stop()
	close(stop)
	got := <-answers
	failed := 0
	for code, n := range got {
		if code != 200 {
			failed += n
		}
	}
	if failed > kills || got[200] == 0 {
		t.Fatalf("answers %v with %d workers killed: more lost than were running in them", got, kills)
	}
	t.Logf("answers %v, %d kills", got, kills)
}

// TestDispatchTerminateAnswers504: request_terminate_timeout kills the
// worker (SIGTERM, which php-cgi notes and goes on, then SIGKILL), and the
// master answers the client 504 itself.
func TestDispatchTerminateAnswers504(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\nrequest_terminate_timeout = \"1s\"\n")
	start := time.Now()
	code, _ := httpGet(t, ng.client, "http://localhost/busy.php?s=6")
	if code != 504 || time.Since(start) > 4500*time.Millisecond {
		t.Fatalf("GET busy.php = %d after %s, want 504 within the timeout and its grace", code, time.Since(start))
	}
	m.waitFor("execution timed out", 5*time.Second)
	if code, _ := httpGet(t, ng.client, "http://localhost/index.php"); code != 200 {
		t.Fatalf("after the timeout: %d", code)
	}
}

// TestDispatchReloadUnderLoad: ten graceful reloads of a php-cgi pool in
// the master mode, through nginx, with requests of 500 ms in flight at
// each: not one fails.
func TestDispatchReloadUnderLoad(t *testing.T) {
	requirePHPCGI(t)
	testReload(t, `command = ["/usr/bin/php-cgi8.2"]
worker_graceful_signal = "SIGTERM"
dispatch = "master"`, "/hello.php", "/sleep.php", false, 10)
}

// TestDispatchFrontInProcess: the HTTP front hands its requests to the
// dispatcher in-process: with the pool's socket file removed (nothing could
// dial it), the front still serves the pool, and the master counts them.
func TestDispatchFrontInProcess(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<?php echo "pid=", getmypid(), "\n";`), 0o644)
	m := startMaster(t, dir, `
[pool.php]
listen = "{{DIR}}/php.sock"
command = ["`+phpCGI+`"]
dispatch = "master"
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
worker_graceful_signal = "SIGTERM"

[http]
listen = "127.0.0.1:0"
default_pool = "php"
root = "{{DIR}}"
`)
	if err := os.Remove(filepath.Join(dir, "php.sock")); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		if code, body := httpGet(t, c, m.frontURL()+"/index.php"); code != 200 || !strings.HasPrefix(body, "pid=") {
			t.Fatalf("GET /index.php through the front = %d %q", code, body)
		}
	}
	code, body := httpGet(t, c, m.frontURL()+"/status?json")
	var st map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || num(st, "accepted conn") != 3 {
		t.Fatalf("status = %d %q, want 3 accepted", code, body)
	}
}

// TestDispatchOndemandExact: an ondemand pool in the master mode starts
// with no worker; the first request waits in the master, which spawns one
// worker for it; the status page then counts that one worker and that one
// request exactly.
func TestDispatchOndemandExact(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"ondemand\"\npm_max_children = 2\npm_process_idle_timeout = \"30s\"\n")
	if kids := m.children(); len(kids) != 0 {
		t.Fatalf("ondemand pool started with workers %v", kids)
	}
	code, body := httpGet(t, ng.client, "http://localhost/index.php")
	if code != 200 || !strings.HasPrefix(body, "pid=") {
		t.Fatalf("GET index.php = %d %q", code, body)
	}
	st := nginxStatus(t, ng, "")
	if num(st, "total processes") != 1 || num(st, "accepted conn") != 2 || num(st, "max active processes") != 1 {
		t.Fatalf("after one request (and this status request): %v", st)
	}
}

// TestDispatchMaxRequestsNoLoss: php-cgi leaves after pm_max_requests
// (PHP_FCGI_MAX_REQUESTS); the master gives a worker no request past its
// last, so POSTs (which are never sent twice) all succeed across the
// recycles.
func TestDispatchMaxRequestsNoLoss(t *testing.T) {
	m, ng, _ := dispatchPHP(t, "pm = \"static\"\npm_max_children = 2\npm_max_requests = 3\n")
	var first []int
	eventually(t, 5*time.Second, "both workers", func() bool { first = m.children(); return len(first) == 2 })
	for i := range 30 {
		resp, err := ng.client.Post("http://localhost/index.php", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %d = %d", i, resp.StatusCode)
		}
	}
	eventually(t, 5*time.Second, "recycled workers", func() bool {
		kids := m.children()
		return len(kids) == 2 && !slices.Contains(kids, first[0]) && !slices.Contains(kids, first[1])
	})
}

// TestDispatchAccessLog: the master writes the access line of every
// request of a php-cgi pool, with php-fpm's tokens, including those it
// answered itself.
func TestDispatchAccessLog(t *testing.T) {
	_, ng, dir := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\nsecurity_limit_extensions = [\".php\"]\n"+
		"access_log = \"{{DIR}}/access.log\"\naccess_format = '%m %r%Q%q %s %f %l'\n")
	if code, _ := httpGet(t, ng.client, "http://localhost/index.php?x=1"); code != 200 {
		t.Fatalf("index.php: %d", code)
	}
	if code, _ := httpGet(t, ng.client, "http://localhost/note.txt"); code != 403 {
		t.Fatalf("note.txt: %d", code)
	}
	want := "GET /index.php?x=1 200 " + filepath.Join(dir, "index.php") + " 0\n" +
		"GET /note.txt 403 " + filepath.Join(dir, "note.txt") + " 0\n"
	var got string
	eventually(t, 5*time.Second, "two access lines", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		got = string(b)
		return strings.Count(got, "\n") >= 2
	})
	if got != want {
		t.Fatalf("access.log:\n%s\nwant:\n%s", got, want)
	}
}

// TestDispatchLibfcgi: a C worker on libfcgi runs unchanged on its
// private socket (fd 0), and the master counts its requests exactly.
func TestDispatchLibfcgi(t *testing.T) {
	dir := shortTempDir(t)
	helloC := buildHelloC(t, dir)
	m := startMaster(t, dir, `
[pool.c]
listen = "{{DIR}}/c.sock"
listen_mode = "0666"
command = ["`+helloC+`"]
dispatch = "master"
pm = "static"
pm_max_children = 2
pm_status_path = "/status"
`)
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "c.sock")))
	kids := m.children()
	for i := range 20 {
		code, body := httpGet(t, ng.client, fmt.Sprintf("http://localhost/api?n=%d", i))
		var got struct {
			Lang  string `json:"lang"`
			PID   int    `json:"pid"`
			Query string `json:"query"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Lang != "c" || !slices.Contains(kids, got.PID) || got.Query != fmt.Sprintf("n=%d", i) {
			t.Fatalf("GET /api?n=%d = %d %q (children %v)", i, code, body, kids)
		}
	}
	if st := nginxStatus(t, ng, ""); num(st, "accepted conn") != 21 || num(st, "idle processes") != 2 {
		t.Fatalf("after 20 requests: %v", st)
	}
}

// buildHelloC compiles examples/c/hello.c to dir/hello-c, as make
// examples does, and returns its path.
func buildHelloC(t *testing.T, dir string) string {
	t.Helper()
	if _, err := os.Stat("/usr/include/fcgiapp.h"); err != nil {
		t.Skip("libfcgi-dev not installed")
	}
	helloC := filepath.Join(dir, "hello-c")
	if out, err := exec.Command("cc", "-O2", "-o", helloC, "../../examples/c/hello.c", "-lfcgi").CombinedOutput(); err != nil {
		t.Fatalf("building the C example: %v %s", err, out)
	}
	return helloC
}

// TestDispatchGoWorker: a Go worker (the worker package) works in the
// master mode too, and POST bodies larger than what the master holds
// before dispatching stream through.
func TestDispatchGoWorker(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, `
[pool.go]
listen = "{{DIR}}/go.sock"
listen_mode = "0666"
command = ["{{HELLO}}"]
dispatch = "master"
pm = "static"
pm_max_children = 2
pm_status_path = "/status"
`)
	ng := startNginx(t, dir, fastcgiLocation(filepath.Join(dir, "go.sock")))
	var kids []int
	eventually(t, 10*time.Second, "both workers started", func() bool { kids = m.children(); return len(kids) == 2 })
	code, body := httpGet(t, ng.client, "http://localhost/")
	if code != 200 || !slices.Contains(kids, pidOf(t, body)) {
		t.Fatalf("GET / = %d %q (children %v)", code, body, kids)
	}
	big := strings.Repeat("x", 300_000)
	resp, err := ng.client.Post("http://localhost/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != big {
		t.Fatalf("POST /echo: %d, %d bytes back", resp.StatusCode, len(got))
	}
	if st := nginxStatus(t, ng, ""); num(st, "accepted conn") != 3 {
		t.Fatalf("after 2 requests and this status request: %v", st)
	}
}

// TestDispatchPathTranslatedLimited: a PHP pool without
// security_limit_extensions runs only .php scripts through the master (php-fpm's
// default), and php-cgi, which runs PATH_TRANSLATED over SCRIPT_FILENAME
// (cgi.fix_pathinfo=0), gets no request whose PATH_TRANSLATED names
// another file: an upload named evil.jpg is not run as PHP, nor is one
// named with a NUL byte before ".php".
func TestDispatchPathTranslatedLimited(t *testing.T) {
	_, ng, dir := dispatchPHP(t, "pm = \"static\"\npm_max_children = 1\n")
	if code, body := httpGet(t, ng.client, "http://localhost/note.txt"); code != 403 || strings.Contains(body, "must not run") {
		t.Fatalf("GET note.txt = %d %q, want 403", code, body)
	}
	sock := filepath.Join(dir, "php.sock")
	for _, p := range []map[string]string{
		{"SCRIPT_FILENAME": filepath.Join(dir, "index.php"), "PATH_TRANSLATED": filepath.Join(dir, "note.txt")},
		{"PATH_TRANSLATED": filepath.Join(dir, "note.txt")},
		{"SCRIPT_FILENAME": filepath.Join(dir, "note.txt") + "\x00.php"}, // php-cgi reads up to the NUL
		{"SCRIPT_FILENAME": filepath.Join(dir, "index.php"), "PATH_TRANSLATED": filepath.Join(dir, "note.txt") + "\x00.php"},
	} {
		if code, body := cgiRequest(t, sock, "/index.php", p); code != 403 || strings.Contains(body, "must not run") {
			t.Fatalf("%v: %d %q, want 403", p, code, body)
		}
	}
	if code, body := cgiRequest(t, sock, "/index.php", map[string]string{"SCRIPT_FILENAME": filepath.Join(dir, "index.php")}); code != 200 || !strings.Contains(body, "pid=") {
		t.Fatalf("index.php: %d %q", code, body)
	}
}
