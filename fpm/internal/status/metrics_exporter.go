package status

// This file writes the series of the php-fpm exporter most php-fpm
// operators run (hipages/php-fpm_exporter), with its names, types, labels
// and help texts, so that its Grafana dashboards and alerts work on gofpm
// unchanged (help texts are php-fpm's where php-fpm has the metric, gofpm's
// own otherwise): pool-wide series labelled {pool, scrape_uri}, per-process
// ones labelled {child, pool, scrape_uri} where child is the worker's
// index in the status page's process list, and phpfpm_process_state one
// series per state. The values are the status page's ?json&full values,
// which is what that exporter reads. Where gofpm differs, see
// docs/status.md ("The php-fpm exporter's series").

import (
	"slices"
	"strconv"
)

// exporterStates are the states the exporter always writes for each
// process (its names: "Getting request informations" is php-fpm's
// spelling before 7.4); a process in another state (php-fpm 7.4+ and gofpm
// write "Getting request information") gets that series too, as there.
var exporterStates = []string{"Idle", "Running", "Finishing", "Reading headers", "Getting request informations", "Ending"}

// writeExporter writes the phpfpm_* families, sorted by name as the
// exporter's registry writes them.
func writeExporter(x *expo, e *Exposition) {
	pools, answered := e.Pools, make([]*PoolMetrics, 0, len(e.Pools))
	for _, r := range pools {
		if r.Status != nil {
			answered = append(answered, r)
		}
	}
	pool := func(name, typ, help string, rs []*PoolMetrics, value func(r *PoolMetrics) float64) {
		x.family(name, typ, help)
		for _, r := range rs {
			x.sample(name, value(r), "pool", r.Pool, "scrape_uri", r.ScrapeURI)
		}
	}
	proc := func(name, typ, help string, value func(row *procRow) float64) {
		x.family(name, typ, help)
		for _, r := range answered {
			for i := range r.Status.Procs {
				row := newProcRow(&r.Status.Procs[i], e.Now)
				x.sample(name, value(&row), "child", strconv.Itoa(i), "pool", r.Pool, "scrape_uri", r.ScrapeURI)
			}
		}
	}
	s := func(r *PoolMetrics) *Snapshot { return r.Status }
	pool("phpfpm_accepted_connections", "counter", phpfpmHelp["phpfpm_accepted_connections"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).Accepted) })
	pool("phpfpm_active_processes", "gauge", phpfpmHelp["phpfpm_active_processes"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).Active) })
	pool("phpfpm_idle_processes", "gauge", phpfpmHelp["phpfpm_idle_processes"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).Idle) })
	pool("phpfpm_listen_queue", "gauge", phpfpmHelp["phpfpm_listen_queue"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).ListenQueue) })
	pool("phpfpm_listen_queue_length", "gauge", phpfpmHelp["phpfpm_listen_queue_length"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).ListenQueueLen) })
	pool("phpfpm_max_active_processes", "counter", phpfpmHelp["phpfpm_max_active_processes"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).MaxActive) })
	pool("phpfpm_max_children_reached", "counter", phpfpmHelp["phpfpm_max_children_reached"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).MaxChildrenReached) })
	pool("phpfpm_max_listen_queue", "counter", phpfpmHelp["phpfpm_max_listen_queue"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).MaxListenQueue) })
	proc("phpfpm_process_last_request_cpu", "gauge", "CPU use of the last request of the process, in percent (0 while it serves one).",
		func(row *procRow) float64 { return row.cpu })
	proc("phpfpm_process_last_request_memory", "gauge", "Resident memory of the process after its last request, in bytes (0 while it serves one).",
		func(row *procRow) float64 { return float64(row.memory) })
	proc("phpfpm_process_request_duration", "gauge", "Duration of the current request of the process, or of its last one when idle, in microseconds.",
		func(row *procRow) float64 { return float64(row.duration) })
	proc("phpfpm_process_requests", "counter", "Requests the process has begun.",
		func(row *procRow) float64 { return float64(row.requests) })
	x.family("phpfpm_process_state", "gauge", "1 for the state the process is in (Idle, Running, ...), 0 for the others.")
	for _, r := range answered {
		for i := range r.Status.Procs {
			st := r.Status.Procs[i].State
			for _, name := range exporterStates {
				x.sample("phpfpm_process_state", b2f(name == st), "child", strconv.Itoa(i), "pool", r.Pool, "scrape_uri", r.ScrapeURI, "state", name)
			}
			if !slices.Contains(exporterStates, st) {
				x.sample("phpfpm_process_state", 1, "child", strconv.Itoa(i), "pool", r.Pool, "scrape_uri", r.ScrapeURI, "state", st)
			}
		}
	}
	pool("phpfpm_scrape_failures", "counter", "Scrapes in which the pool did not answer in time.", pools,
		func(r *PoolMetrics) float64 { return float64(r.ScrapeFailures) })
	pool("phpfpm_slow_requests", "counter", phpfpmHelp["phpfpm_slow_requests"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).SlowRequests) })
	pool("phpfpm_start_since", "counter", phpfpmHelp["phpfpm_start_since"], answered,
		func(r *PoolMetrics) float64 { return float64(sinceEpoch(s(r).StartTime, e.Now)) })
	pool("phpfpm_total_processes", "gauge", phpfpmHelp["phpfpm_total_processes"], answered,
		func(r *PoolMetrics) float64 { return float64(s(r).Idle + s(r).Active) })
	pool("phpfpm_up", "gauge", "1 when the pool answered, has a live worker (or is ondemand) and its workers are not failing at start.", pools,
		func(r *PoolMetrics) float64 { return b2f(r.Up()) })
}
