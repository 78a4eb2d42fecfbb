package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// polyglotLangs are the routes of examples/polyglot, /api/<lang>.
var polyglotLangs = []string{"go", "php", "c", "perl", "python", "cgi", "csharp", "ruby", "node"}

// TestPolyglot: examples/polyglot/pool.toml as written (only the listen
// addresses moved) — the same JSON interface from Go, PHP, C (libfcgi),
// Perl (FCGI), Python (standard library), a shell CGI script through the
// bridge, C# (Mono), Ruby (ruby-fcgi) and Node.js, nine pools behind the
// front and behind nginx (the README's locations). The C#, Ruby and Node
// workers know nothing of gofpm: their status pages list exactly their
// processes, seen from the kernel, and count their requests. A C# worker
// killed with SIGKILL under load is replaced and the next request answers.
func TestPolyglot(t *testing.T) {
	requirePHPCGI(t)
	requirePerlFCGI(t)
	requireLanguages(t, exampleLanguages("polyglot")...)
	m, dir := startExample(t, "polyglot", true)
	base := m.frontURL()
	c := &http.Client{Timeout: 10 * time.Second}
	check := func(via string, c *http.Client, base string) {
		t.Helper()
		for _, lang := range polyglotLangs {
			q := "x=1&lang=" + lang + "&q=%22"
			a := getAPI(t, c, base+"/api/"+lang+"?"+q)
			if a.Lang != lang || a.Query != q {
				t.Errorf("%s /api/%s answered %+v", via, lang, a)
			}
		}
	}
	check("front", c, base)
	n := readmeNginx(t, "polyglot", dir)
	check("nginx", n.client, "http://localhost")

	// The three foreign pools on their status sockets: the processes are
	// the master's children running that language. In this (socket) mode
	// their requests are what the kernel probe saw on its ticks, so a run
	// of short requests may be missed: the counts are only logged here;
	// TestPolyglotDispatch asserts them exactly with dispatch = "master".
	for _, l := range []struct{ lang, cmd string }{{"csharp", "hello-csharp.exe"}, {"ruby", "hello.rb"}, {"node", "hello.js"}} {
		sock := filepath.Join(dir, "polyglot-"+l.lang+"-status.sock")
		var st poolStatus
		deadline := time.Now().Add(10 * time.Second)
		for {
			for range 20 {
				getAPI(t, c, base+"/api/"+l.lang+"?load")
			}
			st = fullStatus(t, sock)
			if st.Accepted > 0 || time.Now().After(deadline) {
				break
			}
		}
		want := childrenRunning(m, l.cmd)
		if st.Pool != l.lang || !slices.Equal(st.pids(), want) {
			t.Errorf("%s status: pool %q, pids %v (children running %s: %v)", l.lang, st.Pool, st.pids(), l.cmd, want)
		}
		t.Logf("%s status (sampled): accepted conn %d, requests %d", l.lang, st.Accepted, st.requests())
	}

	// SIGKILL a C# worker while 4 clients keep the pool busy.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	seen := make(chan int, 1024)
	lc := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := lc.Get(base + "/api/csharp?load=1")
				if err != nil {
					failed.Add(1)
					continue
				}
				var a apiAnswer
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				served.Add(1)
				select {
				case seen <- a.PID:
				default:
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	victim := <-seen
	old := childrenRunning(m, "hello-csharp.exe")
	syscallKill(t, victim)
	m.waitFor(fmt.Sprintf("child %d exited on signal 9", victim), 10*time.Second)
	before := served.Load()
	var replacement int
	deadline := time.After(15 * time.Second)
	for replacement == 0 {
		select {
		case pid := <-seen:
			if !slices.Contains(old, pid) {
				replacement = pid
			}
		case <-deadline:
			t.Fatalf("no C# worker started after %d was killed answered within 15 s (%d served since, %d failed)", victim, served.Load()-before, failed.Load())
		}
	}
	a := getAPI(t, c, base+"/api/csharp?after=kill")
	if a.Lang != "csharp" || a.Query != "after=kill" || a.PID == victim || !alive(a.PID) {
		t.Errorf("after the kill: %+v (victim %d)", a, victim)
	}
	t.Logf("killed C# worker %d under load; replacement %d answered; %d requests served, %d failed (those in flight on the killed worker)", victim, replacement, served.Load(), failed.Load())
}

// childrenRunning lists, sorted, the master's live children whose command
// line holds cmd.
func childrenRunning(m *master, cmd string) []int {
	var out []int
	for _, pid := range m.children() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.Contains(string(b), cmd) {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// poolStatus is the part of the status page's ?json&full read here.
type poolStatus struct {
	Pool      string `json:"pool"`
	Accepted  int    `json:"accepted conn"`
	Processes []struct {
		PID      int    `json:"pid"`
		State    string `json:"state"`
		Requests int    `json:"requests"`
		URI      string `json:"request uri"`
		Duration int    `json:"request duration"` // µs
	} `json:"processes"`
}

func (s poolStatus) pids() []int {
	var out []int
	for _, p := range s.Processes {
		out = append(out, p.PID)
	}
	slices.Sort(out)
	return out
}

func (s poolStatus) requests() int {
	n := 0
	for _, p := range s.Processes {
		n += p.Requests
	}
	return n
}

// fullStatus reads the status page ?json&full on a pm_status_listen socket.
func fullStatus(t *testing.T, sock string) poolStatus {
	t.Helper()
	_, body := splitCGI(t, cgiFCGI(t, sock, "/status", "json&full"))
	var st poolStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status on %s: %v %q", sock, err, body)
	}
	return st
}
