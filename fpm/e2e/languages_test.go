package e2e

// The C#, Ruby and Node.js examples: what they need, the C# build, their
// graceful stop (TestForeignGraceful) and pm_max_requests
// (TestForeignMaxRequests).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// What the examples in languages beyond Go, C, PHP and Perl need (Debian
// packages, make deps), and a file of each package that says it is there.
var languageNeeds = map[string][][2]string{
	"csharp": {{"/usr/bin/mcs", "mono-mcs"}, {"/usr/bin/mono", "mono-runtime"}, {"/usr/lib/libMonoPosixHelper.so", "mono-runtime"}},
	"ruby":   {{"/usr/bin/ruby", "ruby"}, {"/usr/lib/ruby/vendor_ruby/fcgi.rb", "ruby-fcgi"}},
	"node":   {{"/usr/bin/node", "nodejs"}},
}

// requireLanguages skips the test (fails it in CI) unless what the
// examples of the given languages need is installed.
func requireLanguages(t *testing.T, langs ...string) {
	t.Helper()
	for _, l := range langs {
		for _, need := range languageNeeds[l] {
			if _, err := os.Stat(need[0]); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s is not installed (make deps installs it)", need[1])
				}
				t.Skipf("%s not installed (%s); run make deps", need[1], need[0])
			}
		}
	}
}

// exampleLanguages lists the languages of requireLanguages that
// examples/NAME runs.
func exampleLanguages(name string) []string {
	if name == "polyglot" {
		return []string{"csharp", "ruby", "node"}
	}
	if languageNeeds[name] != nil {
		return []string{name}
	}
	return nil
}

var csharpBuild struct {
	once sync.Once
	out  []byte
	err  error
}

// buildCSharp compiles examples/csharp/hello.cs once per test binary, as
// make examples does, and links it at out.
func buildCSharp(t *testing.T, out string) {
	t.Helper()
	requireLanguages(t, "csharp")
	exe := filepath.Join(bins.dir, "hello-csharp.exe")
	csharpBuild.once.Do(func() {
		src, _ := filepath.Abs("../../examples/csharp/hello.cs")
		csharpBuild.out, csharpBuild.err = exec.Command("mcs", "-nologo", "-out:"+exe, src).CombinedOutput()
	})
	if csharpBuild.err != nil {
		t.Fatalf("building the C# example: %v %s", csharpBuild.err, csharpBuild.out)
	}
	if err := os.Symlink(exe, out); err != nil {
		t.Fatal(err)
	}
}

// foreignCommands are the examples' C#, Ruby and Node responders as a
// pool's command; {{DIR}} holds hello-csharp.exe (startForeign builds it).
func foreignCommands(t *testing.T) map[string]string {
	t.Helper()
	ex, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"csharp": `"/usr/bin/mono", "{{DIR}}/hello-csharp.exe"`,
		"ruby":   `"` + ex + `/ruby/hello.rb"`,
		"node":   `"` + ex + `/node/hello.js"`,
	}
}

// startForeign runs lang's responder alone in a static pool of 1 on
// dir/p.sock, with a status socket dir/status.sock and the extra pool
// lines, and returns the master, dir and the worker's pid.
func startForeign(t *testing.T, lang, extra string) (*master, string, int) {
	t.Helper()
	requireLanguages(t, lang)
	dir := shortTempDir(t)
	if lang == "csharp" {
		buildCSharp(t, filepath.Join(dir, "hello-csharp.exe"))
	}
	m := startMaster(t, dir, fmt.Sprintf(`
[pool.p]
listen = "{{DIR}}/p.sock"
command = [%s]
pm = "static"
pm_max_children = 1
pm_status_path = "/status"
pm_status_listen = "{{DIR}}/status.sock"
%s
`, foreignCommands(t)[lang], extra))
	// The worker as the master knows it (a process list may also show a
	// short-lived child of the master's).
	var w int
	eventually(t, 15*time.Second, "the worker", func() bool {
		st := fullStatus(t, filepath.Join(dir, "status.sock"))
		if len(st.Processes) == 1 {
			w = st.Processes[0].PID
		}
		return w != 0
	})
	return m, dir, w
}

// askPID asks the pool on sock for /?QUERY and returns the answering pid.
func askPID(t *testing.T, sock, lang, query string) int {
	t.Helper()
	var a apiAnswer
	code, body := fcgiGet(t, sock, "/?"+query)
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != 200 || a.Lang != lang || a.Query != query || a.PID <= 0 {
		t.Fatalf("/?%s: %d %q (%v)", query, code, body, err)
	}
	return a.PID
}

// TestForeignGraceful: each of the C#, Ruby and Node responders, alone in
// a static pool, gets SIGQUIT (worker_graceful_signal's default) while it
// holds a request half sent: it survives the signal, answers the request
// in full, then exits with code 0 (and the pool replaces it). The
// replacement, idle in accept after its first request, exits with code 0
// on SIGQUIT too.
func TestForeignGraceful(t *testing.T) {
	for _, lang := range []string{"csharp", "ruby", "node"} {
		t.Run(lang, func(t *testing.T) {
			m, dir, w := startForeign(t, lang, "")
			sock, status := filepath.Join(dir, "p.sock"), filepath.Join(dir, "status.sock")

			// Half a request: BEGIN_REQUEST and the params, no end of STDIN.
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
			req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPair(nil, "QUERY_STRING", "graceful=1"))
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			eventually(t, 15*time.Second, "the worker busy with the request", func() bool {
				st := fullStatus(t, status)
				return len(st.Processes) == 1 && st.Processes[0].PID == w && st.Processes[0].State == "Running"
			})
			if err := syscall.Kill(w, syscall.SIGQUIT); err != nil {
				t.Fatal(err)
			}
			eventually(t, 10*time.Second, "SIGQUIT delivered", func() bool { return !sigquitPending(w) })
			if !alive(w) {
				t.Fatalf("worker %d died of SIGQUIT with a request in flight", w)
			}

			rest := fcgi.AppendRecords(nil, fcgi.TypeParams, 1, nil)
			rest = fcgi.AppendRecords(rest, fcgi.TypeStdin, 1, nil)
			if _, err := c.Write(rest); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			var stdout string
			for {
				rec, err := fcgi.ReadRecord(br, nil)
				if err != nil {
					t.Fatalf("reading the answer after SIGQUIT: %v (stdout so far %q)", err, stdout)
				}
				if rec.Type == fcgi.TypeStdout {
					stdout += string(rec.Content)
				}
				if rec.Type == fcgi.TypeEndRequest {
					break
				}
			}
			want := fmt.Sprintf(`{"lang": %q, "pid": %d, "query": "graceful=1"}`, lang, w)
			if !strings.Contains(stdout, want) {
				t.Errorf("answer after SIGQUIT: %q, want it to hold %s", stdout, want)
			}
			m.waitFor(fmt.Sprintf("child %d exited with code 0", w), 10*time.Second)

			// The replacement, once it has answered a request (so its
			// handler is in place), is idle in accept.
			r := askPID(t, sock, lang, "again=1")
			if r == w {
				t.Fatalf("pid %d answered after it exited", w)
			}
			if err := syscall.Kill(r, syscall.SIGQUIT); err != nil {
				t.Fatal(err)
			}
			m.waitFor(fmt.Sprintf("child %d exited with code 0", r), 10*time.Second)
		})
	}
}

// TestForeignMaxRequests: with pm_max_requests = 3 (GOFPM_MAX_REQUESTS)
// each of the C#, Ruby and Node responders answers 3 requests, exits with
// code 0, and a new worker answers the fourth.
func TestForeignMaxRequests(t *testing.T) {
	for _, lang := range []string{"csharp", "ruby", "node"} {
		t.Run(lang, func(t *testing.T) {
			m, dir, w := startForeign(t, lang, "pm_max_requests = 3")
			sock := filepath.Join(dir, "p.sock")
			for i := range 3 {
				if pid := askPID(t, sock, lang, "n="+strconv.Itoa(i)); pid != w {
					t.Fatalf("request %d answered by %d, want the worker %d", i, pid, w)
				}
			}
			m.waitFor(fmt.Sprintf("child %d exited with code 0", w), 10*time.Second)
			if pid := askPID(t, sock, lang, "n=3"); pid == w {
				t.Fatalf("request 4 answered by %d, which had served its 3", pid)
			}
		})
	}
}

// sigquitPending reports whether SIGQUIT waits for delivery to pid (its
// shared or main-thread pending set, /proc/PID/status).
func sigquitPending(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if k != "SigPnd" && k != "ShdPnd" {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err == nil && mask&(1<<(syscall.SIGQUIT-1)) != 0 {
			return true
		}
	}
	return false
}
