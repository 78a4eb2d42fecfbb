package status

// This file writes the status page's openmetrics format.

import (
	"bytes"
	"strconv"
	"time"
)

func openMetricsBody(b *bytes.Buffer, s *Snapshot, now time.Time) {
	p := newPoolView(s, now)
	metric := func(name, typ, help, value string) {
		b.WriteString("# HELP " + name + " " + help + "\n")
		b.WriteString("# TYPE " + name + " " + typ + "\n")
		b.WriteString(name + " " + value + "\n")
	}
	i := func(v int) string { return strconv.Itoa(v) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	metric("phpfpm_up", "gauge", "Could pool "+p.name+" using a "+p.pm+" PM on PHP-FPM be reached?", "1")
	metric("phpfpm_start_since", "counter", phpfpmHelp["phpfpm_start_since"], u(p.since))
	metric("phpfpm_accepted_connections", "counter", phpfpmHelp["phpfpm_accepted_connections"], u(s.Accepted))
	metric("phpfpm_listen_queue", "gauge", phpfpmHelp["phpfpm_listen_queue"], i(s.ListenQueue))
	metric("phpfpm_max_listen_queue", "counter", phpfpmHelp["phpfpm_max_listen_queue"], i(s.MaxListenQueue))
	// php-fpm's one irregularity: TYPE before HELP for this metric.
	b.WriteString("# TYPE phpfpm_listen_queue_length gauge\n" +
		"# HELP phpfpm_listen_queue_length " + phpfpmHelp["phpfpm_listen_queue_length"] + "\n" +
		"phpfpm_listen_queue_length " + i(s.ListenQueueLen) + "\n")
	metric("phpfpm_idle_processes", "gauge", phpfpmHelp["phpfpm_idle_processes"], i(s.Idle))
	metric("phpfpm_active_processes", "gauge", phpfpmHelp["phpfpm_active_processes"], i(s.Active))
	metric("phpfpm_total_processes", "gauge", phpfpmHelp["phpfpm_total_processes"], i(p.total))
	metric("phpfpm_max_active_processes", "counter", phpfpmHelp["phpfpm_max_active_processes"], i(s.MaxActive))
	metric("phpfpm_max_children_reached", "counter", phpfpmHelp["phpfpm_max_children_reached"], u(s.MaxChildrenReached))
	metric("phpfpm_slow_requests", "counter", phpfpmHelp["phpfpm_slow_requests"], u(s.SlowRequests))
	b.WriteString("# EOF\n")
}

// phpfpmHelp are php-fpm's help texts of its openmetrics page, which the
// php-fpm exporter uses too (metrics_exporter.go).
var phpfpmHelp = map[string]string{
	"phpfpm_start_since":          "The number of seconds since FPM has started.",
	"phpfpm_accepted_connections": "The number of requests accepted by the pool.",
	"phpfpm_listen_queue":         "The number of requests in the queue of pending connections.",
	"phpfpm_max_listen_queue":     "The maximum number of requests in the queue of pending connections since FPM has started.",
	"phpfpm_idle_processes":       "The number of idle processes.",
	"phpfpm_active_processes":     "The number of active processes.",
	"phpfpm_total_processes":      "The number of idle + active processes.",
	"phpfpm_max_active_processes": "The maximum number of active processes since FPM has started.",
	"phpfpm_max_children_reached": "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').",
	"phpfpm_slow_requests":        "The number of requests that exceeded your 'request_slowlog_timeout' value.",
	"phpfpm_listen_queue_length":  "The size of the socket queue of pending connections.",
}
