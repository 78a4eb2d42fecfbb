package e2e

// The foreign languages' hello workers under dispatch = "master": each
// runs unchanged on its private socket, and the status page counts and
// shows its requests exactly (issue 18's last item).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dispatchLang is one foreign language's pool in TestPolyglotDispatch:
// its command, what its processes' command lines hold, its
// worker_graceful_signal, and whether it honours FCGI_KEEP_CONN.
type dispatchLang struct {
	name, command, marker, graceful string
	keeps                           bool
}

// TestPolyglotDispatch: C# (Mono), Ruby, Node.js, Perl, Python, C
// (libfcgi) and php-cgi, each in a static pool of 2 with dispatch =
// "master", behind real nginx. For each: the status page lists exactly the
// pool's processes; after a known number of requests accepted conn counts
// them and the status requests exactly, and the process rows' requests add
// up to them; a slow request (?sleep=MS, the examples' own) shows its URI
// and a growing duration in ?full, then counts once.
func TestPolyglotDispatch(t *testing.T) {
	phpCGI := requirePHPCGI(t)
	requirePerlFCGI(t)
	requireLanguages(t, "csharp", "ruby", "node")
	dir := shortTempDir(t)
	buildCSharp(t, filepath.Join(dir, "hello-csharp.exe"))
	helloC := buildHelloC(t, dir)
	ex, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	fc := foreignCommands(t)
	langs := []dispatchLang{
		{"csharp", fc["csharp"], "hello-csharp.exe", "SIGQUIT", true},
		{"ruby", fc["ruby"], "hello.rb", "SIGQUIT", false},
		{"node", fc["node"], "hello.js", "SIGQUIT", true},
		{"perl", `"` + ex + `/perl/hello.pl"`, "hello.pl", "SIGTERM", true},
		{"python", `"` + ex + `/python/hello.py"`, "hello.py", "SIGTERM", false},
		{"c", `"` + helloC + `"`, "hello-c\x00", "SIGTERM", true},
		{"php", `"` + phpCGI + `"`, "php-cgi", "SIGTERM", true},
	}
	var conf, locs strings.Builder
	for _, l := range langs {
		fmt.Fprintf(&conf, `
[pool.%[1]s]
listen = "{{DIR}}/%[1]s.sock"
listen_mode = "0666"
command = [%[2]s]
dispatch = "master"
worker_graceful_signal = "%[3]s"
pm = "static"
pm_max_children = 2
pm_status_path = "/api/%[1]s/status"
`, l.name, l.command, l.graceful)
		script := "$document_root$fastcgi_script_name"
		if l.name == "php" {
			script = ex + "/polyglot/www/api/php/index.php"
		}
		fmt.Fprintf(&locs, `location /api/%[1]s {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME %[2]s;
            fastcgi_pass unix:%[3]s/%[1]s.sock;
        }
        `, l.name, script, dir)
	}
	// The private sockets go under dir/tmp, where the test can find them.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	m := launchMasterWith(t, dir, conf.String(), func(c *exec.Cmd) { c.Env = append(os.Environ(), "TMPDIR="+tmp) })
	m.waitFor("ready to handle connections", 15*time.Second)
	ng := startNginx(t, dir, locs.String())

	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			checkDispatchLang(t, m, ng.client, l, 20, filepath.Join(tmp, "gofpm-"+l.name+"-"))
		})
	}
}

// checkDispatchLang runs TestPolyglotDispatch's checks on l's pool, whose
// private sockets' folder starts with private.
func checkDispatchLang(t *testing.T, m *master, c *http.Client, l dispatchLang, sent int, private string) {
	base := "http://localhost/api/" + l.name
	statuses := 0 // status requests, which the master counts too
	status := func() poolStatus {
		statuses++
		code, body := httpGet(t, c, base+"/status?json&full")
		var st poolStatus
		if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
			t.Fatalf("status = %d %q (%v)", code, body, err)
		}
		return st
	}
	// A fresh pool: nothing counted but the status requests, until both
	// workers run.
	var st poolStatus
	eventually(t, 15*time.Second, "2 processes", func() bool {
		st = status()
		if st.Accepted != statuses || st.requests() != 0 {
			t.Fatalf("at start: accepted conn %d after %d status requests, processes' requests %d", st.Accepted, statuses, st.requests())
		}
		return len(st.Processes) == 2
	})
	for i := range sent {
		q := fmt.Sprintf("n=%d", i)
		code, body := httpGet(t, c, base+"?"+q)
		var a apiAnswer
		if code != 200 || json.Unmarshal([]byte(body), &a) != nil || a.Lang != l.name || a.Query != q || !slices.Contains(st.pids(), a.PID) {
			t.Fatalf("?%s = %d %q (processes %v)", q, code, body, st.pids())
		}
	}
	st = status()
	if want := childrenRunning(m, l.marker); !slices.Equal(st.pids(), want) {
		t.Errorf("status lists %v, the master's children running %q are %v", st.pids(), l.marker, want)
	}
	// The requests sent and the status requests, exactly; the status page
	// is the master's, so only the sent ones are the workers'.
	if st.Accepted != sent+statuses || st.requests() != sent {
		t.Errorf("after %d requests: accepted conn %d (want %d), processes' requests %d (want %d)", sent, st.Accepted, sent+statuses, st.requests(), sent)
	}

	// The dispatcher keeps a connection to a worker that honours
	// FCGI_KEEP_CONN (the requests went one at a time, so to the same
	// worker, the most recently idle), and none to one that closes them.
	if l.keeps {
		if n := keptConns(t, private); n != 1 {
			t.Errorf("%d connections kept to the workers, want 1", n)
		}
	} else {
		eventually(t, 5*time.Second, "no kept connection", func() bool { return keptConns(t, private) == 0 })
	}

	// A slow request: its URI and a growing duration, while it runs.
	uri := "/api/" + l.name + "?sleep=1500"
	slow := getAsync(c, "http://localhost"+uri)
	var first, last int
	deadline := time.Now().Add(5 * time.Second)
	for last <= first || first == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no running %s with a growing duration in ?full within 5 s (durations %d, %d µs)", uri, first, last)
		}
		st = status()
		for _, p := range st.Processes {
			if p.State == "Running" && p.URI == uri && p.Duration > 0 {
				if first == 0 {
					first = p.Duration
				}
				last = p.Duration
			}
		}
	}
	a := <-slow
	var got apiAnswer
	if a.code != 200 || json.Unmarshal([]byte(a.body), &got) != nil || got.Lang != l.name || got.Query != "sleep=1500" {
		t.Errorf("slow request: %d %q", a.code, a.body)
	}
	st = status()
	if st.Accepted != sent+1+statuses || st.requests() != sent+1 {
		t.Errorf("after the slow request: accepted conn %d (want %d), processes' requests %d (want %d)", st.Accepted, sent+1+statuses, st.requests(), sent+1)
	}
	t.Logf("%d requests and %d status requests counted exactly; the slow request ran %d µs at the last look", sent+1, statuses, last)
}

// keptConns counts the connected Unix sockets bound to a path that starts
// with prefix (the workers' ends of the dispatcher's connections to their
// private sockets), from /proc/net/unix.
func keptConns(t *testing.T, prefix string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[5] == "03" && strings.HasPrefix(f[7], prefix) {
			n++
		}
	}
	return n
}
