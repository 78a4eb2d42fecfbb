package fpm

// This file holds the process manager's decisions (PHP-FPM.md §2.2–2.5) as
// pure functions: they take a snapshot of the pool's workers, the pm state
// carried between ticks and the current time, and return what the pool loop
// must do. They do no I/O, start no goroutines and never read the clock, so
// every rule can be tested tick by tick with hand-built snapshots.
//
// Counting rules shared by all three pms:
//
//   - running = len(ws). Every worker process that exists counts toward
//     pm_max_children, whatever its state (wsEnding included), as php-fpm's
//     running_children does.
//   - idle ("spare") = wsIdle + wsStarting workers. A worker that has been
//     forked but not yet seen accepting counts as spare capacity, so a slow
//     starting worker does not make the next tick (or the next ondemand
//     readiness edge) fork another one. php-fpm counts a fresh slot as active
//     until the child reaches its accept loop; gofpm deliberately differs.
//   - active = running - idle (busy and ending workers), as in php-fpm's
//     "currently %d active children" line.
//   - Only wsIdle workers are candidates for retirement. A busy, starting or
//     ending worker is never retired or killed by the pm.
//   - A worker the pm has retired keeps state wsIdle with retiring=true until
//     it exits or takes a request. It still counts as idle (php-fpm counts an
//     idle_kill-marked child as idle), so when a later tick picks it again it
//     goes into pmAction.kill (SIGKILL), php-fpm's kill_idle escalation.

import (
	"fmt"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

// workerState is what the master knows a worker is doing.
type workerState int

const (
	wsStarting workerState = iota // forked, not yet seen accepting
	wsIdle                        // waiting for a connection
	wsBusy                        // serving a request (reading, running or finishing)
	wsEnding                      // asked to stop (retired / recycled); not counted as idle or busy capacity
)

// String returns the lower-case name of s.
func (s workerState) String() string {
	switch s {
	case wsStarting:
		return "starting"
	case wsIdle:
		return "idle"
	case wsBusy:
		return "busy"
	case wsEnding:
		return "ending"
	}
	return fmt.Sprintf("workerState(%d)", int(s))
}

// workerSnap is one worker as seen at a maintenance tick.
type workerSnap struct {
	pid      int
	state    workerState
	started  time.Time // process start
	since    time.Time // when it entered its current state (idle since / busy since)
	retiring bool      // the pm already sent it the graceful signal to scale down (php-fpm idle_kill mark)
}

// pmState is what a pool's manager carries from one tick to the next
// (php-fpm's idle_spawn_rate and warn_max_children). The zero value is
// valid: a spawnRate below 1 is read as 1. decide and onConnectionWaiting
// always return a spawnRate >= 1.
type pmState struct {
	spawnRate         int // dynamic: 1, 2, 4 ... (starts at 1)
	warnedMaxChildren bool
}

// pmAction is what the pool loop must do after a decision.
type pmAction struct {
	spawn  int   // fork this many workers now
	retire []int // send the pool's graceful signal to these (idle) workers, and mark them retiring
	kill   []int // SIGKILL these: idle workers already marked retiring that are still idle (picked again)
	// maxChildrenReached: a new max-children episode: increment the
	// "max children reached" counter and log warning once.
	maxChildrenReached bool
	// warning is the max-children warning text to log at WARNING (without
	// the "[pool x] " prefix); set exactly when maxChildrenReached is.
	// dynamic: "server reached pm_max_children setting (N), consider raising it";
	// ondemand: "server reached max_children setting (N), consider raising it".
	warning string
	// busyWarning, when non-empty, is php-fpm's "seems busy ..." text to log
	// at WARNING (without prefix).
	busyWarning string
	// debug, when non-empty, is the line to log at DEBUG (without prefix):
	// dynamic "currently %d active children, %d spare children, %d running
	// children. Spawning rate %d" (the rate before this tick's decision),
	// ondemand tick "currently %d active children, %d spare children",
	// ondemand fork "got accept without idle child available .... I forked".
	debug string
}

// pmCounts is the census of a snapshot (see the counting rules above).
type pmCounts struct {
	running int // every process, any state
	idle    int // wsIdle + wsStarting
	active  int // running - idle
}

func countWorkers(ws []workerSnap) pmCounts {
	c := pmCounts{running: len(ws)}
	for i := range ws {
		if ws[i].state == wsIdle || ws[i].state == wsStarting {
			c.idle++
		}
	}
	c.active = c.running - c.idle
	return c
}

// oldestIdle returns the index in ws of the wsIdle worker with the earliest
// start time (ties: the lower pid), or -1 when no worker is wsIdle.
func oldestIdle(ws []workerSnap) int {
	best := -1
	for i := range ws {
		w := &ws[i]
		if w.state != wsIdle {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := &ws[best]
		if w.started.Before(b.started) || (w.started.Equal(b.started) && w.pid < b.pid) {
			best = i
		}
	}
	return best
}

// killIdle is php-fpm's kill_idle: graceful signal the first time a worker
// is picked, SIGKILL when it is picked again while still idle.
func killIdle(a *pmAction, w *workerSnap) {
	if w.retiring {
		a.kill = append(a.kill, w.pid)
	} else {
		a.retire = append(a.retire, w.pid)
	}
}

// startCount is how many workers a pool starts with: static max_children,
// dynamic start_servers, ondemand 0. The result is clamped to
// [0, pm_max_children]; an unknown pm starts none.
func startCount(pc *config.Pool) int {
	n := 0
	switch pc.PM {
	case "static":
		n = pc.PMMaxChildren
	case "dynamic":
		n = pc.PMStartServers
	}
	n = min(n, pc.PMMaxChildren)
	return max(n, 0)
}

// decide runs one 1-second maintenance tick for the pool's pm and returns
// the action and the new state. An unknown pm does nothing.
func decide(pc *config.Pool, st pmState, ws []workerSnap, now time.Time) (pmAction, pmState) {
	if st.spawnRate < 1 {
		st.spawnRate = 1
	}
	switch pc.PM {
	case "static":
		return decideStatic(pc, st, ws)
	case "dynamic":
		return decideDynamic(pc, st, ws)
	case "ondemand":
		return decideOndemand(pc, st, ws, now)
	}
	return pmAction{}, st
}

// decideStatic: php-fpm's tick only refreshes the scoreboard; missing
// workers are re-forked on reap. gofpm's tick also replaces any that are
// missing, so a lost respawn heals within a second. Never a warning.
func decideStatic(pc *config.Pool, st pmState, ws []workerSnap) (pmAction, pmState) {
	var a pmAction
	a.spawn = max(pc.PMMaxChildren-len(ws), 0)
	return a, st
}

// decideDynamic is php-fpm's fpm_pctl_perform_idle_server_maintenance for
// pm = dynamic (PHP-FPM.md §2.4).
func decideDynamic(pc *config.Pool, st pmState, ws []workerSnap) (pmAction, pmState) {
	var a pmAction
	c := countWorkers(ws)
	a.debug = fmt.Sprintf("currently %d active children, %d spare children, %d running children. Spawning rate %d",
		c.active, c.idle, c.running, st.spawnRate)

	if c.idle > pc.PMMaxSpareServers {
		if i := oldestIdle(ws); i >= 0 {
			killIdle(&a, &ws[i])
			st.spawnRate = 1
			return a, st
		}
	}

	if c.idle < pc.PMMinSpareServers {
		if c.running >= pc.PMMaxChildren {
			st = dynamicMaxChildren(pc, &a, st)
			return a, st
		}
		if st.spawnRate >= 8 {
			a.busyWarning = fmt.Sprintf("seems busy (you may need to increase pm_start_servers, or pm_min/max_spare_servers), spawning %d children, there are %d idle, and %d total children",
				st.spawnRate, c.idle, c.running)
		}
		n := min(st.spawnRate, pc.PMMinSpareServers-c.idle, pc.PMMaxChildren-c.running)
		if n <= 0 {
			st = dynamicMaxChildren(pc, &a, st)
			return a, st
		}
		st.warnedMaxChildren = false
		a.spawn = n
		if st.spawnRate < pc.PMMaxSpawnRate {
			st.spawnRate *= 2
		}
		return a, st
	}

	st.spawnRate = 1
	return a, st
}

// dynamicMaxChildren is the dynamic "cannot spawn" branch: warn once per
// episode, reset the rate.
func dynamicMaxChildren(pc *config.Pool, a *pmAction, st pmState) pmState {
	if !st.warnedMaxChildren {
		a.maxChildrenReached = true
		a.warning = fmt.Sprintf("server reached pm_max_children setting (%d), consider raising it", pc.PMMaxChildren)
		st.warnedMaxChildren = true
	}
	st.spawnRate = 1
	return st
}

// decideOndemand is the ondemand idle reaping tick (PHP-FPM.md §2.5): take
// the oldest-started wsIdle worker (not the one idle longest) and, when it
// has been idle for at least pm_process_idle_timeout, retire it (or SIGKILL
// it when already retiring). At most one per tick; if the oldest-started
// idle worker has not timed out, nothing is retired this tick even if a
// younger one has (php-fpm's behaviour). Never spawns, never warns, and
// leaves the state as it is.
func decideOndemand(pc *config.Pool, st pmState, ws []workerSnap, now time.Time) (pmAction, pmState) {
	var a pmAction
	c := countWorkers(ws)
	a.debug = fmt.Sprintf("currently %d active children, %d spare children", c.active, c.idle)
	i := oldestIdle(ws)
	if i < 0 {
		return a, st
	}
	if now.Sub(ws[i].since) >= pc.PMProcessIdleTimeout.D() {
		killIdle(&a, &ws[i])
	}
	return a, st
}

// onConnectionWaiting is ondemand's reaction to the listening socket
// becoming readable (a connection waits, nobody accepted it yet), php-fpm's
// fpm_pctl_on_socket_accept:
//
//   - running >= pm_max_children: a max-children episode (counter and
//     "server reached max_children setting (N), consider raising it" once
//     per episode), nothing else. This check comes first, as in php-fpm.
//   - else, if a worker is idle (not retiring) or starting, nothing: it
//     will accept.
//   - else clear the warn flag and spawn exactly one worker.
//
// gofpm choice: an idle worker already marked retiring does not count as
// one that will accept (it has been told to stop); php-fpm would count it.
// The spawn rate is left as it is (ondemand does not use it).
func onConnectionWaiting(pc *config.Pool, st pmState, ws []workerSnap, now time.Time) (pmAction, pmState) {
	_ = now // part of the signature for symmetry with decide; the rule is time-free
	if st.spawnRate < 1 {
		st.spawnRate = 1
	}
	var a pmAction
	if len(ws) >= pc.PMMaxChildren {
		if !st.warnedMaxChildren {
			a.maxChildrenReached = true
			a.warning = fmt.Sprintf("server reached max_children setting (%d), consider raising it", pc.PMMaxChildren)
			st.warnedMaxChildren = true
		}
		return a, st
	}
	for i := range ws {
		switch {
		case ws[i].state == wsStarting:
			return a, st
		case ws[i].state == wsIdle && !ws[i].retiring:
			return a, st
		}
	}
	st.warnedMaxChildren = false
	a.spawn = 1
	a.debug = "got accept without idle child available .... I forked"
	return a, st
}
