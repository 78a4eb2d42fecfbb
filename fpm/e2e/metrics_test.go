package e2e

// End-to-end tests of metrics_listen: the master's own Prometheus server,
// scraped as Prometheus would, with the php-fpm exporter's series names.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs url and parses the page with Prometheus' text parser.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing %s: %v\n%s", url, err, body)
	}
	return fams, resp.Header
}

// value is the sample of fam whose labels include want (name, value
// pairs); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, fam string, want ...string) (v float64, ok bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

// startMetricsMaster starts a master with metrics_listen on a free
// loopback port and a pool www of two hello workers (more config after
// it), and returns the address it listens on.
func startMetricsMaster(t *testing.T, dir, more string) (*master, string) {
	t.Helper()
	m := startMaster(t, dir, `
metrics_listen = "127.0.0.1:0"
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 2
`+more)
	l := m.waitFor("metrics listening on ", 10*time.Second)
	return m, strings.Fields(strings.TrimPrefix(l.Message, "metrics listening on "))[0]
}

// TestMetricsListen: with metrics_listen and no HTTP front, /metrics
// serves the php-fpm exporter's series for every pool (values equal to the
// status page's), phpfpm_up 1 for a pool with live workers and 0 for one
// whose workers die at start, per-process series, gofpm's own series,
// the build info and the master's process_* and go_*; other paths are
// 404, other methods 405.
func TestMetricsListen(t *testing.T) {
	dir := shortTempDir(t)
	m, addr := startMetricsMaster(t, dir, `pm_status_path = "/status"

[pool.broken]
listen = "{{DIR}}/broken.sock"
command = ["/bin/false"]
pm = "static"
pm_max_children = 1
`)
	base := "http://" + addr
	m.waitFor("[pool broken] children keep failing at start", 10*time.Second)
	sock := filepath.Join(dir, "www.sock")
	for range 5 {
		if code, body := fcgiGet(t, sock, "/"); code != 200 {
			t.Fatalf("GET /: %d %q", code, body)
		}
	}
	m.waitUntil("2 children", 10*time.Second, func([]logLine) bool { return len(m.children()) >= 2 })

	fams, hdr := scrape(t, base+"/metrics")
	if ct := hdr.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	www := []string{"pool", "www", "scrape_uri", "unix://" + sock + ";/status"}
	want := map[string]float64{"phpfpm_up": 1, "phpfpm_total_processes": 2, "phpfpm_idle_processes": 2, "phpfpm_active_processes": 0, "phpfpm_scrape_failures": 0}
	for fam, w := range want {
		if v, ok := value(fams, fam, www...); !ok || v != w {
			t.Errorf("%s%v = %v (found %v), want %v", fam, www, v, ok, w)
		}
	}
	if v, ok := value(fams, "phpfpm_up", "pool", "broken", "scrape_uri", "unix://"+filepath.Join(dir, "broken.sock")); !ok || v != 0 {
		t.Errorf("phpfpm_up of the pool whose workers die at start = %v (found %v), want 0", v, ok)
	}
	if v, ok := value(fams, "gofpm_up", "pool", "broken"); !ok || v != 0 {
		t.Errorf("gofpm_up{pool=broken} = %v (found %v), want 0", v, ok)
	}
	// The exporter's numbers are the status page's (asked after the
	// scrape: accepted conn counts the status request itself).
	_, js := fcgiGet(t, sock, "/status?json")
	var st struct {
		Accepted uint64 `json:"accepted conn"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("status json %q: %v", js, err)
	}
	if v, _ := value(fams, "phpfpm_accepted_connections", www...); v < 5 || uint64(v) > st.Accepted {
		t.Errorf("phpfpm_accepted_connections %v; 5 requests sent, status page says %d", v, st.Accepted)
	}
	for _, child := range []string{"0", "1"} {
		if v, ok := value(fams, "phpfpm_process_state", append([]string{"child", child, "state", "Idle"}, www...)...); !ok || v != 1 {
			t.Errorf("phpfpm_process_state{child=%s,state=Idle} = %v (found %v)", child, v, ok)
		}
		if _, ok := value(fams, "phpfpm_process_requests", append([]string{"child", child}, www...)...); !ok {
			t.Errorf("no phpfpm_process_requests{child=%s}", child)
		}
	}
	for _, fam := range []string{"gofpm_request_duration_seconds", "gofpm_spawned_total", "gofpm_recycled_total", "gofpm_queue_refused_total",
		"go_goroutines", "go_gc_duration_seconds", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds",
		"process_cpu_seconds_total"} {
		if fams[fam] == nil {
			t.Errorf("no %s", fam)
		}
	}
	if v, ok := value(fams, "gofpm_build_info", "version", "dev"); !ok || v != 1 {
		t.Errorf("gofpm_build_info{version=dev} = %v (found %v)", v, ok)
	}
	// process_start_time_seconds is the master's start (10 ms steps).
	if v, _ := value(fams, "process_start_time_seconds"); time.Since(time.Unix(int64(v), 0)) > 2*time.Minute || v == 0 {
		t.Errorf("process_start_time_seconds %v", v)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	for _, r := range []struct {
		method, path string
		code         int
	}{{"GET", "/", 404}, {"GET", "/status", 404}, {"POST", "/metrics", 405}, {"HEAD", "/metrics", 200}} {
		req, _ := http.NewRequest(r.method, base+r.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.code {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.code)
		}
	}
}

// TestMetricsListenReload: a reload hands the metrics_listen socket to
// the new master: the same address answers, now from the new master
// (a later process_start_time_seconds), and no scrape is refused.
func TestMetricsListenReload(t *testing.T) {
	dir := shortTempDir(t)
	conf := writeConfig(t, dir, `
pid = "{{DIR}}/gofpm.pid"
metrics_listen = "127.0.0.1:0"
[pool.www]
listen = "{{DIR}}/www.sock"
command = ["{{HELLO}}"]
pm = "static"
pm_max_children = 1
`)
	h := startHanded(t, dir, bins.gofpm, conf)
	addrRe := regexp.MustCompile(`metrics listening on (127\.0\.0\.1:[0-9]+)`)
	var addr string
	eventually(t, 15*time.Second, "the metrics listener", func() bool {
		m := addrRe.FindStringSubmatch(readFile(h.logPath))
		if m != nil {
			addr = m[1]
		}
		return addr != "" && h.current() == h.cmd.Process.Pid
	})
	fams, _ := scrape(t, "http://"+addr+"/metrics")
	before, _ := value(fams, "process_start_time_seconds")
	out, err := exec.Command(bins.gofpm, "reload", "-c", conf, "-R").CombinedOutput()
	if err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	if h.current() == h.cmd.Process.Pid {
		t.Fatalf("the pid file still names the old master after gofpm reload")
	}
	eventually(t, 15*time.Second, "the old master gone", func() bool { return !alive(h.cmd.Process.Pid) })
	fams, _ = scrape(t, "http://"+addr+"/metrics")
	if after, _ := value(fams, "process_start_time_seconds"); after <= before {
		t.Errorf("process_start_time_seconds %v after the reload, %v before: not the new master", after, before)
	}
	if v, ok := value(fams, "phpfpm_up", "pool", "www"); !ok || v != 1 {
		t.Errorf("phpfpm_up after the reload = %v (found %v)", v, ok)
	}
	if n := strings.Count(readFile(h.logPath), "metrics listening on "+addr); n != 2 {
		t.Errorf("%d masters listened on %s, want 2 (the same socket)", n, addr)
	}
}

// TestMetricsListenConnCap: clients that connect to metrics_listen and
// stay take at most 64 of the master's file descriptors; the others wait
// in the listen queue, and a scrape works again once they are gone.
func TestMetricsListenConnCap(t *testing.T) {
	m, addr := startMetricsMaster(t, shortTempDir(t), "")
	fds := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", m.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	// The workers' spawn opens descriptors too: counted before, not as clients'.
	m.waitUntil("both workers started", 10*time.Second, func([]logLine) bool { return len(m.workerPids()) == 2 })
	before := fds()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The master accepts up to the cap (a few of its own descriptors may
	// have closed since before).
	eventually(t, 10*time.Second, "50 accepted connections", func() bool { return fds() >= before+50 })
	if n := fds() - before; n > 64+4 {
		t.Fatalf("the master holds %d more descriptors with 200 idle clients, want at most the cap of 64", n)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if fams, _ := scrape(t, "http://"+addr+"/metrics"); len(fams) == 0 {
		t.Fatal("no metrics after the idle clients left")
	}
}
