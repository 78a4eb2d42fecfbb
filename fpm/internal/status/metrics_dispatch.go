package status

// This file writes the metrics only a pool with dispatch = "master" has:
// what the master answered and refused.

import (
	"slices"
	"strconv"
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

// writeDispatch writes the dispatch metrics: the refusals of the master's
// queue for every pool (0 where dispatch = "socket": there is no such
// queue), the rest only for the pools that dispatch through the master.
func writeDispatch(x *expo, pools []*PoolMetrics) {
	x.family("gofpm_queue_refused_total", "counter", "Requests answered 503 by the master: the queue was full (pm_max_queue), or they waited past request_queue_timeout (dispatch = master; 0 otherwise).")
	var ds []*PoolMetrics
	for _, r := range pools {
		var d DispatchCounts
		if r.Dispatch != nil {
			d = *r.Dispatch
			ds = append(ds, r)
		}
		x.sample("gofpm_queue_refused_total", float64(d.Refused), "pool", r.Pool, "reason", "full")
		x.sample("gofpm_queue_refused_total", float64(d.TimedOut), "pool", r.Pool, "reason", "timeout")
	}
	if len(ds) == 0 {
		return
	}
	x.family("gofpm_answers_total", "counter", "Answers by HTTP status code (dispatch = master).")
	for _, r := range ds {
		codes := make([]int, 0, len(r.Dispatch.Answers))
		for c := range r.Dispatch.Answers {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			x.sample("gofpm_answers_total", float64(r.Dispatch.Answers[c]), "code", strconv.Itoa(c), "pool", r.Pool)
		}
	}
	one := func(name, typ, help string, v func(d *DispatchCounts) float64) {
		x.family(name, typ, help)
		for _, r := range ds {
			x.sample(name, v(r.Dispatch), "pool", r.Pool)
		}
	}
	one("gofpm_queue_waiting", "gauge", "Requests waiting in the master for a worker.",
		func(d *DispatchCounts) float64 { return float64(d.Queued) })
	one("gofpm_requests_denied_total", "counter", "Requests refused with 403 by security_limit_extensions.",
		func(d *DispatchCounts) float64 { return float64(d.Denied) })
	one("gofpm_requests_retried_total", "counter", "Requests given to another worker after the first died before reading them.",
		func(d *DispatchCounts) float64 { return float64(d.Retried) })
	one("gofpm_requests_lost_total", "counter", "Requests lost with a worker that died serving them (the client got 502 or 504).",
		func(d *DispatchCounts) float64 { return float64(d.Lost) })
}
