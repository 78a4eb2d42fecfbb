package e2e

// PHP pools: php-fpm's PHP settings as imported by import-php-fpm, in force
// in php-cgi, and cgi.fix_pathinfo=0 by default.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// TestPHPImportedAdminValue: a php-fpm pool with php_admin_value lines,
// translated by import-php-fpm and run by gofpm: phpinfo() shows the
// values in force, and cgi.fix_pathinfo off; a path such as
// /up/image.jpg/x.php does not run the image as PHP.
func TestPHPImportedAdminValue(t *testing.T) {
	requirePHPCGI(t)
	dir := shortTempDir(t)
	ini := filepath.Join(dir, "app.conf")
	os.WriteFile(ini, []byte("[app]\nlisten = "+dir+"/php.sock\nlisten.mode = 0666\npm = static\npm.max_children = 1\n"+
		"php_admin_value[memory_limit] = 64M\nphp_value[max_execution_time] = 17\nphp_flag[display_errors] = off\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "info.php"), []byte("<?php phpinfo();"), 0o644)
	os.MkdirAll(filepath.Join(dir, "up"), 0o755)
	os.WriteFile(filepath.Join(dir, "up", "image.jpg"), []byte("<?php echo 'IMAGE RAN AS PHP';"), 0o644)
	toml := filepath.Join(dir, "imported.toml")
	if b, err := exec.Command(bins.gofpm, "import-php-fpm", "-o", toml, ini).CombinedOutput(); err != nil {
		t.Fatalf("import-php-fpm: %v %q", err, b)
	}
	text, _ := os.ReadFile(toml)
	if !strings.Contains(string(text), "[pool.app.php_admin_value]\nmemory_limit = \"64M\"") ||
		!strings.Contains(string(text), "worker = \"php\"") {
		t.Fatalf("the translation has no php_admin_value table or is not a warm pool (static):\n%s", text)
	}
	startMaster(t, dir, string(text))
	sock := filepath.Join(dir, "php.sock")
	code, body := fcgiGet(t, sock, "/info.php", "SCRIPT_FILENAME", filepath.Join(dir, "info.php"))
	if code != 200 {
		t.Fatalf("phpinfo() = %d %.300q", code, body)
	}
	for _, want := range []string{
		`<td class="e">memory_limit</td><td class="v">64M</td>`,
		`<td class="e">max_execution_time</td><td class="v">17</td>`,
		`<td class="e">display_errors</td><td class="v">Off</td>`,
		`<td class="e">cgi.fix_pathinfo</td><td class="v">Off</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("phpinfo() lacks %s", want)
		}
	}
	// A web server that passes the whole path (no try_files) must not get
	// the image run: with cgi.fix_pathinfo=1 php-cgi walks up to image.jpg.
	code, body = fcgiGet(t, sock, "/up/image.jpg/x.php", "SCRIPT_FILENAME", filepath.Join(dir, "up/image.jpg/x.php"))
	if strings.Contains(body, "IMAGE RAN AS PHP") || code != 404 {
		t.Errorf("/up/image.jpg/x.php = %d %.200q, want 404 and the image not run", code, body)
	}
}

// warmPool starts a worker = "php" pool of n children with a status
// socket (and the extra pool lines); it returns the master, the php-cgi
// parent's pid and the folder.
func warmPool(t *testing.T, n int, extra ...string) (*master, int, string) {
	t.Helper()
	phpCGI := requirePHPCGI(t)
	dir := shortTempDir(t)
	os.WriteFile(filepath.Join(dir, "pid.php"), []byte(`<?php $s = opcache_get_status(false);
echo getmypid(), " ", getmypid() === (int)($_GET['want'] ?? 0) ? 1 : 0, " ", $s ? $s['opcache_statistics']['num_cached_scripts'] : -1;`), 0o644)
	os.WriteFile(filepath.Join(dir, "other.php"), []byte(`<?php echo "other";`), 0o644)
	os.WriteFile(filepath.Join(dir, "busy.php"), []byte(`<?php $t = microtime(true); while (microtime(true) - $t < 1.5) {} echo "busy done";`), 0o644)
	os.WriteFile(filepath.Join(dir, "slow.php"), []byte(`<?php $t = microtime(true); while (microtime(true) - $t < 30) {} echo "late";`), 0o644)
	m := startMaster(t, dir, fmt.Sprintf(`
[pool.php]
listen = "{{DIR}}/php.sock"
command = [%q]
worker = "php"
worker_graceful_signal = "SIGTERM"
pm = "static"
pm_max_children = %d
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
# The scripts were just written: cache them anyway.
php_admin_value = { "opcache.file_update_protection" = "0" }
%s
`, phpCGI, n, strings.Join(extra, "\n")))
	var parent int
	eventually(t, 10*time.Second, "one php-cgi parent with its children", func() bool {
		kids := m.children()
		if len(kids) == 1 && len(childrenOf(kids[0])) == n {
			parent = kids[0]
			return true
		}
		return false
	})
	t.Cleanup(func() { syscall.Kill(-parent, syscall.SIGKILL) })
	return m, parent, dir
}

// phpGet asks pid.php, hoping for want, and returns who answered and how
// many scripts were in the opcache it saw.
func phpGet(t *testing.T, dir string, want int) (pid, cached int) {
	t.Helper()
	code, body := fcgiGet(t, filepath.Join(dir, "php.sock"), "/pid.php?want="+strconv.Itoa(want),
		"SCRIPT_FILENAME", filepath.Join(dir, "pid.php"))
	var mine int
	if _, err := fmt.Sscan(body, &pid, &mine, &cached); code != 200 || err != nil {
		t.Fatalf("pid.php = %d %q", code, body)
	}
	return pid, cached
}

// statusPids are the pids on the pool's full status page.
func statusPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, p := range statusProcs(t, dir) {
		pids = append(pids, p.Pid)
	}
	slices.Sort(pids)
	return pids
}

type statusProc struct {
	Pid      int
	State    string
	Requests int
}

// statusProcs are the processes of the pool's full status page.
func statusProcs(t *testing.T, dir string) []statusProc {
	t.Helper()
	code, body := fcgiGet(t, filepath.Join(dir, "status.sock"), "/status?json&full")
	var st struct{ Processes []statusProc }
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status = %d %q: %v", code, body, err)
	}
	return st.Processes
}

// TestPHPWarmPool: worker = "php" runs one php-cgi parent whose children
// are the pool's workers: each on the status page, answering; a child
// killed with -9 while requests run is replaced by a new fork of the same
// parent, whose first answer already finds the opcache its siblings
// filled (a cold php-cgi would hold only the script it runs).
func TestPHPWarmPool(t *testing.T) {
	m, parent, dir := warmPool(t, 3)
	kids := childrenOf(parent)
	slices.Sort(kids)
	eventually(t, 5*time.Second, "the status page lists the parent's children", func() bool {
		return slices.Equal(statusPids(t, dir), kids)
	})
	fcgiGet(t, filepath.Join(dir, "php.sock"), "/other.php", "SCRIPT_FILENAME", filepath.Join(dir, "other.php"))
	if pid, _ := phpGet(t, dir, 0); !slices.Contains(kids, pid) {
		t.Fatalf("answered by %d, not one of the parent's children %v", pid, kids)
	}
	// Each child's state and requests, as the kernel shows them (it sees
	// a connection held by a child: a request of 1.5s is seen).
	busy := make(chan string, 1)
	go func() { _, b := fcgiTry(filepath.Join(dir, "php.sock"), filepath.Join(dir, "busy.php")); busy <- b }()
	var running int
	eventually(t, 5*time.Second, "one child Running on the status page", func() bool {
		for _, p := range statusProcs(t, dir) {
			if p.State == "Running" && slices.Contains(kids, p.Pid) {
				running = p.Pid
				return true
			}
		}
		return false
	})
	if b := <-busy; b != "busy done" {
		t.Fatalf("busy.php answered %q", b)
	}
	eventually(t, 5*time.Second, "its request counted, the child Idle again", func() bool {
		for _, p := range statusProcs(t, dir) {
			if p.Pid == running {
				return p.State == "Idle" && p.Requests >= 1
			}
		}
		return false
	})

	// Load while one child is killed.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fcgiSend(ctx, filepath.Join(dir, "php.sock"), filepath.Join(dir, "other.php"))
			}
		}()
	}
	victim := kids[0]
	syscall.Kill(victim, syscall.SIGKILL)
	var fresh int
	eventually(t, 5*time.Second, "a new child of the same parent", func() bool {
		now := childrenOf(parent)
		for _, pid := range now {
			if !slices.Contains(kids, pid) {
				fresh = pid
			}
		}
		return fresh != 0 && len(now) == 3
	})
	cancel()
	wg.Wait()
	m.waitFor(fmt.Sprintf("child %d started", fresh), 5*time.Second)
	eventually(t, 5*time.Second, "the status page shows the replacement", func() bool {
		p := statusPids(t, dir)
		return slices.Contains(p, fresh) && !slices.Contains(p, victim)
	})
	// Its first answer: ask until it is the one that answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pid, cached := phpGet(t, dir, fresh)
		if pid == fresh {
			if cached < 2 {
				t.Errorf("the new child's first answer saw %d cached scripts, want pid.php and other.php (a shared, warm opcache)", cached)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d never answered", fresh)
		}
	}
}

// TestPHPWarmPoolOrphans: no php-cgi outlives its parent or the master.
// The parent killed with -9: its children are killed, a new parent forks
// new ones. The master killed with -9: the parent gets SIGTERM (its
// parent-death signal) and takes its children along.
func TestPHPWarmPoolOrphans(t *testing.T) {
	m, parent, dir := warmPool(t, 2)
	kids := childrenOf(parent)
	syscall.Kill(parent, syscall.SIGKILL)
	eventually(t, 5*time.Second, "the dead parent's children gone", func() bool {
		return !alive(kids[0]) && !alive(kids[1])
	})
	var parent2 int
	eventually(t, 10*time.Second, "a new parent with 2 children", func() bool {
		k := m.children()
		if len(k) == 1 && k[0] != parent && len(childrenOf(k[0])) == 2 {
			parent2 = k[0]
			return true
		}
		return false
	})
	t.Cleanup(func() { syscall.Kill(-parent2, syscall.SIGKILL) })
	if pid, _ := phpGet(t, dir, 0); !slices.Contains(childrenOf(parent2), pid) {
		t.Fatalf("answered by %d, not a child of the new parent", pid)
	}
	kids2 := childrenOf(parent2)
	m.cmd.Process.Kill()
	m.waitExit(5 * time.Second)
	eventually(t, 5*time.Second, "no php-cgi left after the master's death", func() bool {
		return !alive(parent2) && !alive(kids2[0]) && !alive(kids2[1])
	})
}

// TestPHPWarmPoolLimits: request_terminate_timeout and pm_max_requests act
// on one forked child, and the parent forks its replacement.
func TestPHPWarmPoolLimits(t *testing.T) {
	m, parent, dir := warmPool(t, 1, `request_terminate_timeout = "1s"`, "pm_max_requests = 3")
	sock := filepath.Join(dir, "php.sock")
	first := childrenOf(parent)[0]
	// pm_max_requests = 3 (PHP_FCGI_MAX_REQUESTS): the child leaves after
	// its third request and a new fork answers the fourth.
	var pids []int
	for range 4 {
		pid, _ := phpGet(t, dir, 0)
		pids = append(pids, pid)
	}
	if pids[0] != first || pids[2] != first || pids[3] == first {
		t.Fatalf("answered by %v: want %d three times, then a new child", pids, first)
	}
	second := pids[3]
	// request_terminate_timeout: the slow request's child is ended, the
	// request gets no answer from it, and a new fork serves the next one.
	start := time.Now()
	code, body := fcgiTry(sock, filepath.Join(dir, "slow.php"))
	if strings.Contains(body, "late") || time.Since(start) > 10*time.Second {
		t.Fatalf("slow.php = %d %q after %s: want it cut after about 1s", code, body, time.Since(start))
	}
	m.waitFor(fmt.Sprintf("child %d", second), 5*time.Second)
	eventually(t, 5*time.Second, "a new child after the timeout", func() bool {
		k := childrenOf(parent)
		return len(k) == 1 && k[0] != second
	})
	if pid, _ := phpGet(t, dir, 0); pid == second || pid == first {
		t.Fatalf("answered by %d after the timeout", pid)
	}
	if m.count("request_terminate_timeout") == 0 && m.count("execution timed out") == 0 {
		t.Errorf("no timeout in the master's log")
	}
}

// fcgiTry is one GET whose failure is an answer, not a test failure.
func fcgiTry(sock, script string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &fcgi.Client{Network: "unix", Address: sock}
	resp, err := c.Do(ctx, &fcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_FILENAME": script, "SCRIPT_NAME": "/" + filepath.Base(script),
		"REQUEST_URI": "/" + filepath.Base(script), "SERVER_PROTOCOL": "HTTP/1.1", "REDIRECT_STATUS": "200"}})
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPHPWarmPoolMemory: worker_max_memory recycles an idle forked child;
// the same parent forks the replacement.
func TestPHPWarmPoolMemory(t *testing.T) {
	m, parent, _ := warmPool(t, 1, `worker_max_memory = "1MiB"`) // every php-cgi is above it
	first := childrenOf(parent)[0]
	m.waitFor(fmt.Sprintf("child %d uses", first), 10*time.Second)
	eventually(t, 5*time.Second, "a new child of the same parent", func() bool {
		k := childrenOf(parent)
		return len(k) == 1 && k[0] != first
	})
	if !strings.Contains(m.logText(), "more than worker_max_memory") {
		t.Errorf("no worker_max_memory recycling in the log")
	}
}
