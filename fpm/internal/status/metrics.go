package status

// This file renders the master's Prometheus /metrics page (on the HTTP
// front and on metrics_listen): php-fpm exporter's series
// (metrics_exporter.go), gofpm's own series below, and the master's
// process_*, go_* and build-info series (metrics_runtime.go), in the text
// exposition format 0.0.4. gofpm's own series carry no per-pid label:
// their number would grow with every recycled worker.

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofpm/gofpm/worker/proto"
)

// MetricsContentType is Prometheus' text exposition format.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// recycleReasons are the reasons a worker leaves, in a fixed order so every
// series exists from the start.
var recycleReasons = []string{"max_requests", "memory", "timeout", "crash", "idle", "recycle"}

// Exposition is everything the metrics page shows, filled by the master.
type Exposition struct {
	Pools   []*PoolMetrics
	Build   BuildInfo
	Process *ProcessStats // the master process; nil: not shown
	Go      *GoStats      // the master's Go runtime; nil: not shown
	// Now is the time of the scrape (the per-process request durations of
	// the status page are relative to it).
	Now time.Time
}

// PoolMetrics is what the metrics show of one pool.
type PoolMetrics struct {
	Pool string // the pool name
	// ScrapeURI is the php-fpm exporter's scrape_uri label: where that
	// exporter would read this pool's status page, in its own syntax
	// ("unix:///run/gofpm/www.sock;/status", "tcp://127.0.0.1:9000/status").
	ScrapeURI string
	// Status is the pool's status snapshot; nil when the pool did not
	// answer in time (then only phpfpm_up, gofpm_up and
	// phpfpm_scrape_failures are shown for it, as the exporter does).
	Status *Snapshot
	// ScrapeFailures counts the scrapes the pool did not answer.
	ScrapeFailures uint64
	// Failing is set while the pool's workers keep failing at start
	// (the respawn back-off is on).
	Failing     bool
	MaxChildren int               // pm_max_children
	Spawned     uint64            // worker processes started
	Recycled    map[string]uint64 // worker processes that left, by reason
	Dispatch    *DispatchCounts   // dispatch = "master" only (metrics_dispatch.go)
	Hist        proto.Histogram   // request durations
}

// Up is what phpfpm_up and gofpm_up say: the pool answered, its workers
// are not failing at start, and it has at least one live worker (an
// ondemand pool may have none and still serve: it starts one per
// connection).
func (r *PoolMetrics) Up() bool {
	if r.Status == nil || r.Failing {
		return false
	}
	return r.Status.Idle+r.Status.Active > 0 || r.Status.PM == "ondemand"
}

// WriteMetrics writes the metrics page. Pools are ordered by name (e.Pools
// is sorted in place); families by name within each group.
func WriteMetrics(w io.Writer, e *Exposition) {
	slices.SortFunc(e.Pools, func(a, b *PoolMetrics) int { return strings.Compare(a.Pool, b.Pool) })
	x := &expo{}
	size := 16 << 10 // the runtime series and the families' headers
	for _, r := range e.Pools {
		size += 3 << 10 // a pool's series
		if r.Status != nil {
			size += 1200 * len(r.Status.Procs) // 10 series per worker
		}
	}
	x.b.Grow(size)
	writeExporter(x, e)
	writeOwn(x, e.Pools)
	writeRuntime(x, e)
	io.WriteString(w, x.b.String())
}

// writeOwn writes gofpm's own series.
func writeOwn(x *expo, pools []*PoolMetrics) {
	answered := slices.DeleteFunc(slices.Clone(pools), func(r *PoolMetrics) bool { return r.Status == nil })
	each := func(name, typ, help string, rs []*PoolMetrics, value func(r *PoolMetrics) float64) {
		x.family(name, typ, help)
		for _, r := range rs {
			x.sample(name, value(r), "pool", r.Pool)
		}
	}
	each("gofpm_up", "gauge", "1 when the pool answered, has a live worker (or is ondemand) and its workers are not failing at start.", pools,
		func(r *PoolMetrics) float64 { return b2f(r.Up()) })
	x.family("gofpm_processes", "gauge", "Worker processes by state.")
	for _, r := range answered {
		x.sample("gofpm_processes", float64(r.Status.Idle), "pool", r.Pool, "state", "idle")
		x.sample("gofpm_processes", float64(r.Status.Active), "pool", r.Pool, "state", "active")
	}
	each("gofpm_max_children", "gauge", "The pool's pm_max_children.", answered, func(r *PoolMetrics) float64 { return float64(r.MaxChildren) })
	each("gofpm_max_active_processes", "gauge", "The most active processes seen since the pool started.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.MaxActive) })
	each("gofpm_accepted_requests_total", "counter", "Requests begun by the pool's workers.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.Accepted) })
	each("gofpm_listen_queue", "gauge", "Connections waiting to be accepted.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.ListenQueue) })
	each("gofpm_listen_queue_max", "gauge", "The longest listen queue seen since the pool started.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.MaxListenQueue) })
	each("gofpm_listen_queue_length", "gauge", "The listen backlog of the pool's socket.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.ListenQueueLen) })
	each("gofpm_max_children_reached_total", "counter", "Times the pool wanted more workers than pm_max_children.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.MaxChildrenReached) })
	each("gofpm_slow_requests_total", "counter", "Requests that ran past request_slowlog_timeout.", answered,
		func(r *PoolMetrics) float64 { return float64(r.Status.SlowRequests) })
	each("gofpm_spawned_total", "counter", "Worker processes started.", answered, func(r *PoolMetrics) float64 { return float64(r.Spawned) })
	x.family("gofpm_recycled_total", "counter", "Worker processes that left, by reason.")
	for _, r := range answered {
		for _, reason := range recycleReasons {
			x.sample("gofpm_recycled_total", float64(r.Recycled[reason]), "pool", r.Pool, "reason", reason)
		}
	}
	const hist = "gofpm_request_duration_seconds"
	x.family(hist, "histogram", "Request durations (Go workers: from the scoreboard; other workers: as the kernel showed them).")
	for _, r := range answered {
		var cum uint64
		for i, le := range proto.DurationBuckets {
			cum += r.Hist.Counts[i]
			x.sample(hist+"_bucket", float64(cum), "pool", r.Pool, "le", formatFloat(le.Seconds()))
		}
		cum += r.Hist.Counts[len(proto.DurationBuckets)]
		x.sample(hist+"_bucket", float64(cum), "pool", r.Pool, "le", "+Inf")
		x.sample(hist+"_sum", r.Hist.Sum.Seconds(), "pool", r.Pool)
		x.sample(hist+"_count", float64(cum), "pool", r.Pool)
	}
	writeDispatch(x, answered)
}

// expo builds a page in the text exposition format.
type expo struct{ b strings.Builder }

// family starts a metric family: its HELP and TYPE lines.
func (x *expo) family(name, typ, help string) {
	x.b.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

// single writes a family of one sample without labels.
func (x *expo) single(name, typ, help string, v float64) {
	x.family(name, typ, help)
	x.sample(name, v)
}

// sample writes one sample; labels are name, value pairs, written in the
// order given (callers give them sorted by name, as client_golang does).
func (x *expo) sample(name string, v float64, labels ...string) {
	x.b.WriteString(name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			x.b.WriteByte('{')
		} else {
			x.b.WriteByte(',')
		}
		x.b.WriteString(labels[i])
		x.b.WriteString(`="`)
		x.b.WriteString(escapeLabel(labels[i+1]))
		x.b.WriteByte('"')
	}
	if len(labels) > 0 {
		x.b.WriteByte('}')
	}
	x.b.WriteByte(' ')
	var a [32]byte
	x.b.Write(appendFloat(a[:0], v))
	x.b.WriteByte('\n')
}

// escapeLabel escapes a label value: backslash, double quote and line
// feed are the only escapes the text format knows.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// formatFloat writes v as the text format reads it: integers without an
// exponent up to 2^53, NaN and ±Inf by name.
func formatFloat(v float64) string { return string(appendFloat(nil, v)) }

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
