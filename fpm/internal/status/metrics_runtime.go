package status

// This file writes the master's own series: the standard process_* and
// go_* of Prometheus' client libraries (same names, types, units and
// meanings, so the usual "Go process" dashboards work; help texts are
// gofpm's), and gofpm_build_info. The master collects the values.

import (
	"runtime"
	"time"
)

// BuildInfo is gofpm_build_info's labels.
type BuildInfo struct {
	Version   string // gofpm's version ("dev" when not set at build)
	GoVersion string // runtime.Version()
}

// ProcessStats is the master process's resource use.
type ProcessStats struct {
	CPU      time.Duration // user + system
	Start    time.Time
	RSS      uint64 // bytes
	VSize    uint64 // bytes
	MaxVSize uint64 // RLIMIT_AS (RLIM_INFINITY as the kernel gives it)
	OpenFDs  int
	MaxFDs   uint64 // RLIMIT_NOFILE
}

// GoStats is the master's Go runtime state.
type GoStats struct {
	Goroutines int
	Threads    int // OS threads created
	GOMAXPROCS int
	GOGC       int64 // percent; -1 when off
	MemLimit   int64 // bytes (math.MaxInt64 when unset)
	// GC pauses: their count, total, and the quantiles 0, .25, .5, .75, 1
	// of the recent ones.
	GCCount     uint64
	GCPauseSum  time.Duration
	GCQuantiles [5]time.Duration
	LastGC      time.Time // zero when no GC has run
	Mem         runtime.MemStats
}

// writeRuntime writes gofpm_build_info, go_* and process_*.
func writeRuntime(x *expo, e *Exposition) {
	if g := e.Go; g != nil {
		x.family("go_gc_duration_seconds", "summary", "Stop-the-world pause durations of the garbage collector.")
		for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
			x.sample("go_gc_duration_seconds", g.GCQuantiles[i].Seconds(), "quantile", q)
		}
		x.sample("go_gc_duration_seconds_sum", g.GCPauseSum.Seconds())
		x.sample("go_gc_duration_seconds_count", float64(g.GCCount))
		gauge := func(name, help string, v float64) { x.single(name, "gauge", help, v) }
		counter := func(name, help string, v float64) { x.single(name, "counter", help, v) }
		gauge("go_gc_gogc_percent", "GOGC, the heap growth that starts a collection, in percent.", float64(g.GOGC))
		gauge("go_gc_gomemlimit_bytes", "GOMEMLIMIT, the Go runtime's soft memory limit, in bytes.", float64(g.MemLimit))
		gauge("go_goroutines", "Goroutines that exist now.", float64(g.Goroutines))
		x.family("go_info", "gauge", "The Go version the master was built with.")
		x.sample("go_info", 1, "version", e.Build.GoVersion)
		m := &g.Mem
		gauge("go_memstats_alloc_bytes", "Heap bytes allocated and in use.", float64(m.Alloc))
		counter("go_memstats_alloc_bytes_total", "Heap bytes allocated since the start, freed or not.", float64(m.TotalAlloc))
		gauge("go_memstats_buck_hash_sys_bytes", "Bytes of the profiling bucket hash table.", float64(m.BuckHashSys))
		counter("go_memstats_frees_total", "Heap objects freed since the start.", float64(m.Frees))
		gauge("go_memstats_gc_sys_bytes", "Bytes of garbage collector metadata.", float64(m.GCSys))
		gauge("go_memstats_heap_alloc_bytes", "Heap bytes allocated and in use (as go_memstats_alloc_bytes).", float64(m.HeapAlloc))
		gauge("go_memstats_heap_idle_bytes", "Heap bytes in spans with no object.", float64(m.HeapIdle))
		gauge("go_memstats_heap_inuse_bytes", "Heap bytes in spans with objects.", float64(m.HeapInuse))
		gauge("go_memstats_heap_objects", "Heap objects allocated and in use.", float64(m.HeapObjects))
		gauge("go_memstats_heap_released_bytes", "Heap bytes given back to the operating system.", float64(m.HeapReleased))
		gauge("go_memstats_heap_sys_bytes", "Heap bytes obtained from the operating system.", float64(m.HeapSys))
		gauge("go_memstats_last_gc_time_seconds", "When the last garbage collection ended, in seconds since 1970 (0: none yet).", unixSeconds(g.LastGC))
		counter("go_memstats_mallocs_total", "Heap objects allocated since the start.", float64(m.Mallocs))
		gauge("go_memstats_mcache_inuse_bytes", "Bytes of mcache structures in use.", float64(m.MCacheInuse))
		gauge("go_memstats_mcache_sys_bytes", "Bytes of mcache structures obtained from the operating system.", float64(m.MCacheSys))
		gauge("go_memstats_mspan_inuse_bytes", "Bytes of mspan structures in use.", float64(m.MSpanInuse))
		gauge("go_memstats_mspan_sys_bytes", "Bytes of mspan structures obtained from the operating system.", float64(m.MSpanSys))
		gauge("go_memstats_next_gc_bytes", "Heap size at which the next collection starts.", float64(m.NextGC))
		gauge("go_memstats_other_sys_bytes", "Bytes of other runtime allocations.", float64(m.OtherSys))
		gauge("go_memstats_stack_inuse_bytes", "Bytes of goroutine stacks in use.", float64(m.StackInuse))
		gauge("go_memstats_stack_sys_bytes", "Bytes of stack memory obtained from the operating system.", float64(m.StackSys))
		gauge("go_memstats_sys_bytes", "Bytes obtained from the operating system in all.", float64(m.Sys))
		gauge("go_sched_gomaxprocs_threads", "GOMAXPROCS, the threads that may run Go code at once.", float64(g.GOMAXPROCS))
		gauge("go_threads", "OS threads created.", float64(g.Threads))
	}
	x.family("gofpm_build_info", "gauge", "The running master's gofpm and Go versions (always 1).")
	x.sample("gofpm_build_info", 1, "goversion", e.Build.GoVersion, "version", e.Build.Version)
	if p := e.Process; p != nil {
		x.single("process_cpu_seconds_total", "counter", "User and system CPU time of the master, in seconds.", p.CPU.Seconds())
		gauge := func(name, help string, v float64) { x.single(name, "gauge", help, v) }
		gauge("process_max_fds", "The master's limit of open file descriptors (RLIMIT_NOFILE).", float64(p.MaxFDs))
		gauge("process_open_fds", "File descriptors the master has open.", float64(p.OpenFDs))
		gauge("process_resident_memory_bytes", "Resident memory of the master, in bytes.", float64(p.RSS))
		gauge("process_start_time_seconds", "When the master started, in seconds since 1970.", unixSeconds(p.Start))
		gauge("process_virtual_memory_bytes", "Virtual memory of the master, in bytes.", float64(p.VSize))
		gauge("process_virtual_memory_max_bytes", "The master's limit of virtual memory (RLIMIT_AS), in bytes.", float64(p.MaxVSize))
	}
}

// unixSeconds is t in seconds since 1970, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
