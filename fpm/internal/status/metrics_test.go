package status

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/gofpm/gofpm/worker/proto"
)

// exporterFamilies are hipages/php-fpm_exporter's series as its
// phpfpm/exporter.go declares them (read at commit 0ef3d97, 2025-08):
// name, type and label names (sorted, as its registry writes them).
var exporterFamilies = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"phpfpm_up":                          {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_scrape_failures":             {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_start_since":                 {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_accepted_connections":        {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_listen_queue":                {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_max_listen_queue":            {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_listen_queue_length":         {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_idle_processes":              {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_active_processes":            {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_total_processes":             {dto.MetricType_GAUGE, []string{"pool", "scrape_uri"}},
	"phpfpm_max_active_processes":        {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_max_children_reached":        {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_slow_requests":               {dto.MetricType_COUNTER, []string{"pool", "scrape_uri"}},
	"phpfpm_process_requests":            {dto.MetricType_COUNTER, []string{"child", "pool", "scrape_uri"}},
	"phpfpm_process_last_request_memory": {dto.MetricType_GAUGE, []string{"child", "pool", "scrape_uri"}},
	"phpfpm_process_last_request_cpu":    {dto.MetricType_GAUGE, []string{"child", "pool", "scrape_uri"}},
	"phpfpm_process_request_duration":    {dto.MetricType_GAUGE, []string{"child", "pool", "scrape_uri"}},
	"phpfpm_process_state":               {dto.MetricType_GAUGE, []string{"child", "pool", "scrape_uri", "state"}},
}

// testExposition has pool "www" (dynamic, three workers in three states,
// counters set), pool "down" that did not answer, and the runtime parts.
func testExposition() *Exposition {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var hist proto.Histogram
	hist.Observe(3 * time.Millisecond)
	hist.Observe(200 * time.Millisecond)
	hist.Observe(time.Minute)
	var ms runtime.MemStats
	ms.Alloc, ms.TotalAlloc, ms.Sys, ms.NumGC = 1<<20, 5<<20, 8<<20, 3
	return &Exposition{
		Now:   now,
		Build: BuildInfo{Version: "1.2.3", GoVersion: "go1.26.0"},
		Pools: []*PoolMetrics{
			{Pool: "www", ScrapeURI: "unix:///run/gofpm/www.sock;/status", MaxChildren: 8, Spawned: 5, Dispatch: &DispatchCounts{Refused: 2, TimedOut: 1},
				Recycled: map[string]uint64{"max_requests": 2}, Hist: hist, ScrapeFailures: 1,
				Status: &Snapshot{Pool: "www", PM: "dynamic", StartTime: now.Add(-90 * time.Second),
					Accepted: 120, ListenQueue: 1, MaxListenQueue: 4, ListenQueueLen: 511,
					Idle: 1, Active: 2, Total: 3, MaxActive: 3, MaxChildrenReached: 6, SlowRequests: 7,
					Procs: []Proc{
						{PID: 11, State: "Idle", Requests: 40, RequestDuration: 1500 * time.Microsecond, LastRequestCPU: 12.5, LastRequestMemory: 2 << 20},
						{PID: 12, State: "Running", Requests: 41, RequestDuration: 2 * time.Second, LastRequestCPU: 50, LastRequestMemory: 1 << 20},
						{PID: 13, State: "Getting request information", Requests: 39},
					}}},
			{Pool: "down", ScrapeURI: "tcp://127.0.0.1:9000/status", ScrapeFailures: 3},
		},
		Process: &ProcessStats{CPU: 1500 * time.Millisecond, Start: now.Add(-time.Hour), RSS: 20 << 20, VSize: 1 << 30,
			MaxVSize: 1<<64 - 1, OpenFDs: 12, MaxFDs: 1024},
		Go: &GoStats{Goroutines: 30, Threads: 9, GOMAXPROCS: 2, GOGC: 100, MemLimit: 1<<63 - 1, GCCount: 3,
			GCPauseSum: 300 * time.Microsecond, GCQuantiles: [5]time.Duration{50 * time.Microsecond, 80 * time.Microsecond, 100 * time.Microsecond, 120 * time.Microsecond, 130 * time.Microsecond},
			LastGC: now.Add(-time.Second), Mem: ms},
	}
}

func renderMetrics(e *Exposition) string {
	var b bytes.Buffer
	WriteMetrics(&b, e)
	return b.String()
}

// TestMetricsExporterSeries: the page parses strictly; every series of the
// php-fpm exporter is there with its type and labels, and with the values
// the status page's ?json&full shows; a pool that did not answer has only
// phpfpm_up 0 and its scrape failures.
func TestMetricsExporterSeries(t *testing.T) {
	e := testExposition()
	fams := parseMetrics(t, renderMetrics(e))
	for name, want := range exporterFamilies {
		f := fams[name]
		if f == nil {
			t.Errorf("no family %s", name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), want.typ)
		}
		for _, m := range f.Metric {
			var got []string
			for _, l := range m.Label {
				got = append(got, l.GetName())
			}
			if !slices.Equal(got, want.labels) {
				t.Errorf("%s: labels %v, want %v", name, got, want.labels)
			}
		}
	}
	www := []string{"pool", "www", "scrape_uri", "unix:///run/gofpm/www.sock;/status"}
	down := []string{"pool", "down", "scrape_uri", "tcp://127.0.0.1:9000/status"}
	for _, c := range []struct {
		fam    string
		labels []string
		want   float64
	}{
		{"phpfpm_up", www, 1},
		{"phpfpm_up", down, 0},
		{"phpfpm_scrape_failures", www, 1},
		{"phpfpm_scrape_failures", down, 3},
		{"phpfpm_start_since", www, 90},
		{"phpfpm_accepted_connections", www, 120},
		{"phpfpm_listen_queue", www, 1},
		{"phpfpm_max_listen_queue", www, 4},
		{"phpfpm_listen_queue_length", www, 511},
		{"phpfpm_idle_processes", www, 1},
		{"phpfpm_active_processes", www, 2},
		{"phpfpm_total_processes", www, 3},
		{"phpfpm_max_active_processes", www, 3},
		{"phpfpm_max_children_reached", www, 6},
		{"phpfpm_slow_requests", www, 7},
		{"phpfpm_process_requests", append([]string{"child", "1"}, www...), 41},
		{"phpfpm_process_request_duration", append([]string{"child", "0"}, www...), 1500},
		{"phpfpm_process_request_duration", append([]string{"child", "1"}, www...), 2e6},
		// as the status page: last-request CPU and memory only when idle
		{"phpfpm_process_last_request_cpu", append([]string{"child", "0"}, www...), 12.5},
		{"phpfpm_process_last_request_cpu", append([]string{"child", "1"}, www...), 0},
		{"phpfpm_process_last_request_memory", append([]string{"child", "0"}, www...), 2 << 20},
		{"phpfpm_process_last_request_memory", append([]string{"child", "1"}, www...), 0},
		{"phpfpm_process_state", append(append([]string{"child", "1"}, www...), "state", "Running"), 1},
		{"phpfpm_process_state", append(append([]string{"child", "1"}, www...), "state", "Idle"), 0},
		{"phpfpm_process_state", append(append([]string{"child", "2"}, www...), "state", "Getting request information"), 1},
		{"phpfpm_process_state", append(append([]string{"child", "2"}, www...), "state", "Getting request informations"), 0},
	} {
		if got := series(t, fams, c.fam, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.fam, c.labels, got, c.want)
		}
	}
	// Six states per process (seven for the one in a state the exporter
	// does not list), and nothing else of the pool that did not answer.
	if n := len(fams["phpfpm_process_state"].Metric); n != 6+6+7 {
		t.Errorf("%d phpfpm_process_state series, want 19", n)
	}
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "pool" && l.GetValue() == "down" && !slices.Contains([]string{"phpfpm_up", "phpfpm_scrape_failures", "gofpm_up"}, name) {
					t.Errorf("%s has a series for the pool that did not answer", name)
				}
			}
		}
	}
}

// TestMetricsOwnAndRuntime: gofpm's own series, the build info and the
// standard process_* and go_* series with their types and values.
func TestMetricsOwnAndRuntime(t *testing.T) {
	page := renderMetrics(testExposition())
	fams := parseMetrics(t, page)
	for _, c := range []struct {
		fam    string
		labels []string
		want   float64
	}{
		{"gofpm_up", []string{"pool", "www"}, 1},
		{"gofpm_up", []string{"pool", "down"}, 0},
		{"gofpm_processes", []string{"pool", "www", "state", "active"}, 2},
		{"gofpm_max_children", []string{"pool", "www"}, 8},
		{"gofpm_spawned_total", []string{"pool", "www"}, 5},
		{"gofpm_recycled_total", []string{"pool", "www", "reason", "max_requests"}, 2},
		{"gofpm_recycled_total", []string{"pool", "www", "reason", "crash"}, 0},
		{"gofpm_queue_refused_total", []string{"pool", "www", "reason", "full"}, 2},
		{"gofpm_queue_refused_total", []string{"pool", "www", "reason", "timeout"}, 1},
		{"gofpm_build_info", []string{"goversion", "go1.26.0", "version", "1.2.3"}, 1},
		{"go_info", []string{"version", "go1.26.0"}, 1},
		{"go_goroutines", nil, 30},
		{"go_threads", nil, 9},
		{"go_sched_gomaxprocs_threads", nil, 2},
		{"go_memstats_alloc_bytes", nil, 1 << 20},
		{"go_memstats_alloc_bytes_total", nil, 5 << 20},
		{"go_memstats_sys_bytes", nil, 8 << 20},
		{"go_memstats_last_gc_time_seconds", nil, float64(testExposition().Now.Add(-time.Second).Unix())},
		{"process_cpu_seconds_total", nil, 1.5},
		{"process_open_fds", nil, 12},
		{"process_max_fds", nil, 1024},
		{"process_resident_memory_bytes", nil, 20 << 20},
		{"process_virtual_memory_bytes", nil, 1 << 30},
		{"process_virtual_memory_max_bytes", nil, 1.8446744073709552e+19},
		{"process_start_time_seconds", nil, float64(testExposition().Now.Add(-time.Hour).Unix())},
	} {
		if got := series(t, fams, c.fam, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.fam, c.labels, got, c.want)
		}
	}
	types := map[string]dto.MetricType{
		"gofpm_request_duration_seconds": dto.MetricType_HISTOGRAM, "go_gc_duration_seconds": dto.MetricType_SUMMARY,
		"process_cpu_seconds_total": dto.MetricType_COUNTER, "go_memstats_mallocs_total": dto.MetricType_COUNTER,
		"go_memstats_frees_total": dto.MetricType_COUNTER, "go_memstats_alloc_bytes_total": dto.MetricType_COUNTER,
		"gofpm_accepted_requests_total": dto.MetricType_COUNTER, "process_open_fds": dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		if f := fams[name]; f == nil || f.GetType() != typ {
			t.Errorf("%s: %v, want type %v", name, f, typ)
		}
	}
	h := fams["gofpm_request_duration_seconds"].Metric[0].Histogram
	if h.GetSampleCount() != 3 || len(h.Bucket) != len(proto.DurationBuckets)+1 || h.Bucket[0].GetCumulativeCount() != 1 {
		t.Errorf("histogram: %v", h)
	}
	var last uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < last {
			t.Errorf("bucket le=%v falls: %d < %d", b.GetUpperBound(), b.GetCumulativeCount(), last)
		}
		last = b.GetCumulativeCount()
	}
	if !strings.Contains(page, `gofpm_request_duration_seconds_bucket{pool="www",le="+Inf"} 3`+"\n") {
		t.Error("no +Inf bucket of 3")
	}
	s := fams["go_gc_duration_seconds"].Metric[0].Summary
	if s.GetSampleCount() != 3 || len(s.Quantile) != 5 || s.Quantile[4].GetQuantile() != 1 || s.Quantile[4].GetValue() != 130e-6 {
		t.Errorf("go_gc_duration_seconds: %v", s)
	}
}

// TestMetricsUp: what phpfpm_up and gofpm_up mean.
func TestMetricsUp(t *testing.T) {
	for _, c := range []struct {
		name string
		r    PoolMetrics
		want bool
	}{
		{"answered, live workers", PoolMetrics{Status: &Snapshot{PM: "static", Idle: 2}}, true},
		{"answered, busy only", PoolMetrics{Status: &Snapshot{PM: "dynamic", Active: 1}}, true},
		{"did not answer", PoolMetrics{}, false},
		{"no worker (static)", PoolMetrics{Status: &Snapshot{PM: "static"}}, false},
		{"no worker (ondemand, at rest)", PoolMetrics{Status: &Snapshot{PM: "ondemand"}}, true},
		{"workers failing at start", PoolMetrics{Status: &Snapshot{PM: "static", Idle: 1}, Failing: true}, false},
		{"ondemand failing at start", PoolMetrics{Status: &Snapshot{PM: "ondemand"}, Failing: true}, false},
	} {
		if got := c.r.Up(); got != c.want {
			t.Errorf("%s: Up() = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestMetricsEscaping: label values with a quote, a backslash and a line
// feed come back as they were; numbers keep their value.
func TestMetricsEscaping(t *testing.T) {
	e := &Exposition{Pools: []*PoolMetrics{{Pool: "www", ScrapeURI: "unix:///tmp/a \"b\"\\c\nd;/status", Status: &Snapshot{PM: "ondemand"}}},
		Build: BuildInfo{Version: `v"1"`, GoVersion: "go1.26.0"}}
	fams := parseMetrics(t, renderMetrics(e))
	if v := series(t, fams, "phpfpm_up", "pool", "www", "scrape_uri", "unix:///tmp/a \"b\"\\c\nd;/status"); v != 1 {
		t.Errorf("phpfpm_up = %v", v)
	}
	series(t, fams, "gofpm_build_info", "goversion", "go1.26.0", "version", `v"1"`)
	for v, want := range map[float64]string{0: "0", 3: "3", 0.005: "0.005", 1 << 60: "1.152921504606847e+18", -2: "-2", 12.5: "12.5"} {
		if got := formatFloat(v); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkWriteMetrics: one scrape of 4 pools of 32 workers each (the
// page's size grows with the workers: 10 series per worker).
func BenchmarkWriteMetrics(b *testing.B) {
	e := testExposition()
	www := e.Pools[0]
	var pools []*PoolMetrics
	for i := range 4 {
		p := *www
		p.Pool = "pool" + string(rune('a'+i))
		st := *www.Status
		st.Procs = nil
		for j := range 32 {
			st.Procs = append(st.Procs, Proc{PID: 1000 + j, State: "Idle", Requests: uint64(j)})
		}
		p.Status = &st
		pools = append(pools, &p)
	}
	e.Pools = pools
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		WriteMetrics(&buf, e)
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
