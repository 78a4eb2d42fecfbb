package status

// This file writes the metrics only a pool with dispatch = "master" has:
// what the master answered and refused.

import (
	"fmt"
	"slices"
	"strings"
)

// DispatchCounts are a dispatch = "master" pool's counters.
type DispatchCounts struct {
	Answers  map[int]uint64 // answers by status code (the Status: line; 200 without)
	Queued   int            // requests waiting in the master now
	Refused  uint64         // 503: pm_max_queue requests waited already
	TimedOut uint64         // 503: waited past request_queue_timeout
	Denied   uint64         // 403: security_limit_extensions
	Retried  uint64         // given to another worker after the first died before reading
	Lost     uint64         // lost with a worker that died while serving them
}

// writeDispatchMetrics writes the dispatch metrics of the pools that have
// them; nothing when none has.
func writeDispatchMetrics(b *strings.Builder, reports []*PoolMetrics) {
	var ds []*PoolMetrics
	for _, r := range reports {
		if r.Dispatch != nil {
			ds = append(ds, r)
		}
	}
	if len(ds) == 0 {
		return
	}
	metric := func(name, typ, help string, each func(d *DispatchCounts, pool string)) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range ds {
			each(r.Dispatch, fmt.Sprintf("%q", r.Status.Pool))
		}
	}
	metric("gofpm_answers_total", "counter", "Answers by HTTP status code (dispatch = master).", func(d *DispatchCounts, pool string) {
		codes := make([]int, 0, len(d.Answers))
		for c := range d.Answers {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			fmt.Fprintf(b, "gofpm_answers_total{pool=%s,code=\"%d\"} %d\n", pool, c, d.Answers[c])
		}
	})
	metric("gofpm_queue_waiting", "gauge", "Requests waiting in the master for a worker.", func(d *DispatchCounts, pool string) {
		fmt.Fprintf(b, "gofpm_queue_waiting{pool=%s} %d\n", pool, d.Queued)
	})
	metric("gofpm_queue_refused_total", "counter", "Requests answered 503 by the master: the queue was full, or they waited past request_queue_timeout.", func(d *DispatchCounts, pool string) {
		fmt.Fprintf(b, "gofpm_queue_refused_total{pool=%s,reason=\"full\"} %d\n", pool, d.Refused)
		fmt.Fprintf(b, "gofpm_queue_refused_total{pool=%s,reason=\"timeout\"} %d\n", pool, d.TimedOut)
	})
	metric("gofpm_requests_denied_total", "counter", "Requests refused with 403 by security_limit_extensions.", func(d *DispatchCounts, pool string) {
		fmt.Fprintf(b, "gofpm_requests_denied_total{pool=%s} %d\n", pool, d.Denied)
	})
	metric("gofpm_requests_retried_total", "counter", "Requests given to another worker after the first died before reading them.", func(d *DispatchCounts, pool string) {
		fmt.Fprintf(b, "gofpm_requests_retried_total{pool=%s} %d\n", pool, d.Retried)
	})
	metric("gofpm_requests_lost_total", "counter", "Requests lost with a worker that died serving them (the client got 502 or 504).", func(d *DispatchCounts, pool string) {
		fmt.Fprintf(b, "gofpm_requests_lost_total{pool=%s} %d\n", pool, d.Lost)
	})
}
