package fpm

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

// metricsPath is where the HTTP front serves the metrics.
const metricsPath = "/metrics"

// metricsContentType is Prometheus' text exposition format.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// recycleReasons are the reasons a worker leaves, in a fixed order so every
// series exists from the start.
var recycleReasons = []string{"max_requests", "memory", "timeout", "crash", "idle", "recycle"}

// writeMetrics writes the metrics of the reports, one per pool.
func writeMetrics(w io.Writer, reports []*poolReport) {
	var b strings.Builder
	metric := func(name, typ, help string, each func(r *poolReport, pool string)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range reports {
			each(r, strconv.Quote(r.status.Pool))
		}
	}
	metric("gofpm_up", "gauge", "Whether the pool answered (1).", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_up{pool=%s} 1\n", pool)
	})
	metric("gofpm_processes", "gauge", "Worker processes by state.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_processes{pool=%s,state=\"idle\"} %d\n", pool, r.status.Idle)
		fmt.Fprintf(&b, "gofpm_processes{pool=%s,state=\"active\"} %d\n", pool, r.status.Active)
	})
	metric("gofpm_max_children", "gauge", "The pool's pm_max_children.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_max_children{pool=%s} %d\n", pool, r.maxChildren)
	})
	metric("gofpm_max_active_processes", "gauge", "The most active processes seen since the pool started.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_max_active_processes{pool=%s} %d\n", pool, r.status.MaxActive)
	})
	metric("gofpm_accepted_requests_total", "counter", "Requests begun by the pool's workers.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_accepted_requests_total{pool=%s} %d\n", pool, r.status.Accepted)
	})
	metric("gofpm_listen_queue", "gauge", "Connections waiting to be accepted.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue{pool=%s} %d\n", pool, r.status.ListenQueue)
	})
	metric("gofpm_listen_queue_max", "gauge", "The longest listen queue seen since the pool started.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue_max{pool=%s} %d\n", pool, r.status.MaxListenQueue)
	})
	metric("gofpm_listen_queue_length", "gauge", "The listen backlog of the pool's socket.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_listen_queue_length{pool=%s} %d\n", pool, r.status.ListenQueueLen)
	})
	metric("gofpm_max_children_reached_total", "counter", "Times the pool wanted more workers than pm_max_children.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_max_children_reached_total{pool=%s} %d\n", pool, r.status.MaxChildrenReached)
	})
	metric("gofpm_slow_requests_total", "counter", "Requests that ran past request_slowlog_timeout.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_slow_requests_total{pool=%s} %d\n", pool, r.status.SlowRequests)
	})
	metric("gofpm_spawned_total", "counter", "Worker processes started.", func(r *poolReport, pool string) {
		fmt.Fprintf(&b, "gofpm_spawned_total{pool=%s} %d\n", pool, r.count.spawned)
	})
	metric("gofpm_recycled_total", "counter", "Worker processes that left, by reason.", func(r *poolReport, pool string) {
		for _, reason := range recycleReasons {
			fmt.Fprintf(&b, "gofpm_recycled_total{pool=%s,reason=%q} %d\n", pool, reason, r.count.recycled[reason])
		}
	})
	metric("gofpm_request_duration_seconds", "histogram", "Request durations (Go workers: from the scoreboard; other workers: as the kernel showed them).", func(r *poolReport, pool string) {
		var cum uint64
		for i, le := range proto.DurationBuckets {
			cum += r.hist.Counts[i]
			fmt.Fprintf(&b, "gofpm_request_duration_seconds_bucket{pool=%s,le=\"%g\"} %d\n", pool, le.Seconds(), cum)
		}
		cum += r.hist.Counts[len(proto.DurationBuckets)]
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_bucket{pool=%s,le=\"+Inf\"} %d\n", pool, cum)
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_sum{pool=%s} %g\n", pool, r.hist.Sum.Seconds())
		fmt.Fprintf(&b, "gofpm_request_duration_seconds_count{pool=%s} %d\n", pool, cum)
	})
	io.WriteString(w, b.String())
}

// sortedReports orders reports by pool name.
func sortedReports(rs []*poolReport) []*poolReport {
	slices.SortFunc(rs, func(a, b *poolReport) int { return strings.Compare(a.status.Pool, b.status.Pool) })
	return rs
}
