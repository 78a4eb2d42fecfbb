package status

// This file renders gofpm's own Prometheus metrics for the HTTP front's
// /metrics page: every pool, labelled by pool, with the request-duration
// histogram, spawn and recycle counts. No per-pid labels: their number
// would grow with every recycled worker.

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/worker/proto"
)

// MetricsContentType is Prometheus' text exposition format.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// recycleReasons are the reasons a worker leaves, in a fixed order so every
// series exists from the start.
var recycleReasons = []string{"max_requests", "memory", "timeout", "crash", "idle", "recycle"}

// PoolMetrics is what the metrics show of one pool.
type PoolMetrics struct {
	Status      *Snapshot
	MaxChildren int               // pm_max_children
	Spawned     uint64            // worker processes started
	Recycled    map[string]uint64 // worker processes that left, by reason
	Hist        proto.Histogram   // request durations
	Dispatch    *DispatchCounts   // dispatch = "master" only (metrics_dispatch.go)
}

// WriteMetrics writes the metrics of the pools, ordered by pool name
// (pools is sorted in place).
func WriteMetrics(w io.Writer, pools []*PoolMetrics) {
	reports := sortedReports(pools)
	var b strings.Builder
	metric := func(name, typ, help string, each func(r *PoolMetrics, pool string)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range reports {
			each(r, strconv.Quote(r.Status.Pool))
		}
	}
	metric("gofpm_up", "gauge", "Whether the pool answered (1).", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_up{pool=%s} 1\n", pool)
	})
	metric("gofpm_processes", "gauge", "Worker processes by state.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_processes{pool=%s,state=\"idle\"} %d\n", pool, r.Status.Idle)
		fmt.Fprintf(&b, "gofpm_processes{pool=%s,state=\"active\"} %d\n", pool, r.Status.Active)
	})
	metric("gofpm_max_children", "gauge", "The pool's pm_max_children.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_max_children{pool=%s} %d\n", pool, r.MaxChildren)
	})
	metric("gofpm_max_active_processes", "gauge", "The most active processes seen since the pool started.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_max_active_processes{pool=%s} %d\n", pool, r.Status.MaxActive)
	})
	metric("gofpm_accepted_requests_total", "counter", "Requests begun by the pool's workers.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_accepted_requests_total{pool=%s} %d\n", pool, r.Status.Accepted)
	})
	metric("gofpm_listen_queue", "gauge", "Connections waiting to be accepted.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue{pool=%s} %d\n", pool, r.Status.ListenQueue)
	})
	metric("gofpm_listen_queue_max", "gauge", "The longest listen queue seen since the pool started.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue_max{pool=%s} %d\n", pool, r.Status.MaxListenQueue)
	})
	metric("gofpm_listen_queue_length", "gauge", "The listen backlog of the pool's socket.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue_length{pool=%s} %d\n", pool, r.Status.ListenQueueLen)
	})
	metric("gofpm_max_children_reached_total", "counter", "Times the pool wanted more workers than pm_max_children.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_max_children_reached_total{pool=%s} %d\n", pool, r.Status.MaxChildrenReached)
	})
	metric("gofpm_slow_requests_total", "counter", "Requests that ran past request_slowlog_timeout.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_slow_requests_total{pool=%s} %d\n", pool, r.Status.SlowRequests)
	})
	metric("gofpm_spawned_total", "counter", "Worker processes started.", func(r *PoolMetrics, pool string) {
		fmt.Fprintf(&b, "gofpm_spawned_total{pool=%s} %d\n", pool, r.Spawned)
	})
	metric("gofpm_recycled_total", "counter", "Worker processes that left, by reason.", func(r *PoolMetrics, pool string) {
		for _, reason := range recycleReasons {
			fmt.Fprintf(&b, "gofpm_recycled_total{pool=%s,reason=%q} %d\n", pool, reason, r.Recycled[reason])
		}
	})
	metric("gofpm_request_duration_seconds", "histogram", "Request durations (Go workers: from the scoreboard; other workers: as the kernel showed them).", func(r *PoolMetrics, pool string) {
		var cum uint64
		for i, le := range proto.DurationBuckets {
			cum += r.Hist.Counts[i]
			fmt.Fprintf(&b, "gofpm_request_duration_seconds_bucket{pool=%s,le=\"%g\"} %d\n", pool, le.Seconds(), cum)
		}
		cum += r.Hist.Counts[len(proto.DurationBuckets)]
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_bucket{pool=%s,le=\"+Inf\"} %d\n", pool, cum)
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_sum{pool=%s} %g\n", pool, r.Hist.Sum.Seconds())
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_count{pool=%s} %d\n", pool, cum)
	})
	writeDispatchMetrics(&b, reports)
	io.WriteString(w, b.String())
}

// sortedReports orders reports by pool name.
func sortedReports(rs []*PoolMetrics) []*PoolMetrics {
	slices.SortFunc(rs, func(a, b *PoolMetrics) int { return strings.Compare(a.Status.Pool, b.Status.Pool) })
	return rs
}
