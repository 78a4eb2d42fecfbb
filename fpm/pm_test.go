package fpm

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/config"
)

// pmT0 is the fixed origin of every time in these tests.
var pmT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// pmAt is pmT0 plus s seconds.
func pmAt(s float64) time.Time { return pmT0.Add(time.Duration(s * float64(time.Second))) }

func pmW(pid int, st workerState, started, since float64) workerSnap {
	return workerSnap{pid: pid, state: st, started: pmAt(started), since: pmAt(since)}
}

func pmRetiring(w workerSnap) workerSnap { w.retiring = true; return w }

// pmN is n workers in state st, pids first, first+1, ..., all started at
// started and in their state since since.
func pmN(n int, st workerState, first int, started, since float64) []workerSnap {
	ws := make([]workerSnap, n)
	for i := range ws {
		ws[i] = pmW(first+i, st, started, since)
	}
	return ws
}

func pmCat(parts ...[]workerSnap) []workerSnap { return slices.Concat(parts...) }

func pmDynamic(maxChildren, start, minSpare, maxSpare, maxRate int) *config.Pool {
	return &config.Pool{PM: "dynamic", PMMaxChildren: maxChildren, PMStartServers: start,
		PMMinSpareServers: minSpare, PMMaxSpareServers: maxSpare, PMMaxSpawnRate: maxRate,
		PMProcessIdleTimeout: config.Duration(10 * time.Second)}
}

func pmOndemand(maxChildren int, idle time.Duration) *config.Pool {
	return &config.Pool{PM: "ondemand", PMMaxChildren: maxChildren, PMMaxSpawnRate: 32,
		PMProcessIdleTimeout: config.Duration(idle)}
}

func pmStatic(maxChildren int) *config.Pool {
	return &config.Pool{PM: "static", PMMaxChildren: maxChildren, PMMaxSpawnRate: 32,
		PMProcessIdleTimeout: config.Duration(10 * time.Second)}
}

// pmStep is one call of the function under test and what it must return.
// want.debug is only compared when non-empty; every other field of want is
// compared exactly (nil slices mean "none").
type pmStep struct {
	ws      []workerSnap
	now     time.Time
	want    pmAction
	wantSt  pmState
	comment string
}

type pmRow struct {
	name  string
	pc    *config.Pool
	st    pmState // state before the first step
	steps []pmStep
}

func pmFmtAction(a pmAction) string {
	return fmt.Sprintf("{spawn:%d retire:%v kill:%v maxChildrenReached:%v warning:%q busyWarning:%q debug:%q}",
		a.spawn, a.retire, a.kill, a.maxChildrenReached, a.warning, a.busyWarning, a.debug)
}

// pmRun runs the steps of a row through f, carrying the state from step to
// step, and checks that f does not modify its snapshot.
func pmRun(t *testing.T, f func(*config.Pool, pmState, []workerSnap, time.Time) (pmAction, pmState), r pmRow) {
	t.Helper()
	st := r.st
	for i, s := range r.steps {
		before := slices.Clone(s.ws)
		got, gotSt := f(r.pc, st, s.ws, s.now)
		if !reflect.DeepEqual(before, s.ws) {
			t.Errorf("step %d: the snapshot was modified", i+1)
		}
		if s.want.debug == "" {
			got.debug = ""
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d %s:\n got action %s\nwant action %s", i+1, s.comment, pmFmtAction(got), pmFmtAction(s.want))
		}
		if gotSt != s.wantSt {
			t.Errorf("step %d %s: got state %+v, want %+v", i+1, s.comment, gotSt, s.wantSt)
		}
		st = gotSt
	}
}

func TestPMWorkerStateString(t *testing.T) {
	for s, want := range map[workerState]string{
		wsStarting: "starting", wsIdle: "idle", wsBusy: "busy", wsEnding: "ending", 7: "workerState(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestPMStartCount(t *testing.T) {
	for _, tc := range []struct {
		name string
		pc   *config.Pool
		want int
	}{
		{"static starts max_children", pmStatic(7), 7},
		{"dynamic starts start_servers", pmDynamic(40, 20, 20, 25, 8), 20},
		{"ondemand starts none", pmOndemand(5, time.Second), 0},
		{"unknown pm starts none", &config.Pool{PM: "lazy", PMMaxChildren: 3}, 0},
		{"dynamic start_servers above max_children is clamped", pmDynamic(4, 9, 1, 4, 8), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := startCount(tc.pc); got != tc.want {
				t.Errorf("startCount = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDecideUnknownPM(t *testing.T) {
	pc := &config.Pool{PM: "lazy", PMMaxChildren: 3}
	pmRun(t, decide, pmRow{name: "unknown pm does nothing", pc: pc, st: pmState{spawnRate: 4}, steps: []pmStep{{
		now: pmAt(1), want: pmAction{}, wantSt: pmState{spawnRate: 4},
	}}})
}

func TestDecideStatic(t *testing.T) {
	st1 := pmState{spawnRate: 1}
	rows := []pmRow{
		{name: "static replaces missing workers", pc: pmStatic(5), st: st1, steps: []pmStep{{
			ws:   pmCat(pmN(2, wsBusy, 10, 0, 1), pmN(1, wsIdle, 20, 0, 1)),
			now:  pmAt(5),
			want: pmAction{spawn: 2}, wantSt: st1,
		}}},
		{name: "static: full pool → nothing, even all busy (never warns)", pc: pmStatic(3), st: st1, steps: []pmStep{{
			ws:   pmN(3, wsBusy, 10, 0, 1),
			now:  pmAt(5),
			want: pmAction{}, wantSt: st1,
		}}},
		{name: "static: ending workers still count toward max_children", pc: pmStatic(3), st: st1, steps: []pmStep{{
			ws:   pmCat(pmN(2, wsIdle, 10, 0, 1), pmN(1, wsEnding, 20, 0, 4)),
			now:  pmAt(5),
			want: pmAction{}, wantSt: st1,
		}}},
		{name: "static: more idle workers than needed are never retired", pc: pmStatic(2), st: st1, steps: []pmStep{{
			ws:   pmN(3, wsIdle, 10, 0, 0),
			now:  pmAt(500),
			want: pmAction{}, wantSt: st1,
		}}},
		{name: "static: empty pool refills completely; zero state reads as rate 1", pc: pmStatic(4), st: pmState{}, steps: []pmStep{{
			now:  pmAt(5),
			want: pmAction{spawn: 4}, wantSt: st1,
		}}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { pmRun(t, decide, r) })
	}
}

func TestDecideDynamic(t *testing.T) {
	busyMsg := func(rate, idle, total int) string {
		return fmt.Sprintf("seems busy (you may need to increase pm_start_servers, or pm_min/max_spare_servers), spawning %d children, there are %d idle, and %d total children", rate, idle, total)
	}
	maxMsg := func(n int) string {
		return fmt.Sprintf("server reached pm_max_children setting (%d), consider raising it", n)
	}
	r := func(rate int) pmState { return pmState{spawnRate: rate} }
	rw := func(rate int) pmState { return pmState{spawnRate: rate, warnedMaxChildren: true} }

	rows := []pmRow{
		{
			// min 1, max_spare 2: 3 idle. Start order is 30 (t=1), 10 (t=2), 20 (t=3):
			// pid order and slice order differ from start order.
			name: "idle above max_spare → retire the oldest-started idle one",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(4),
			steps: []pmStep{{
				ws:   []workerSnap{pmW(10, wsIdle, 2, 50), pmW(20, wsIdle, 3, 40), pmW(30, wsIdle, 1, 60)},
				now:  pmAt(61),
				want: pmAction{retire: []int{30}, debug: "currently 0 active children, 3 spare children, 3 running children. Spawning rate 4"},
				// a retire resets the rate
				wantSt: r(1),
			}},
		},
		{
			name: "retire never picks a busy worker even when it is oldest",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(1),
			steps: []pmStep{{
				ws:     []workerSnap{pmW(1, wsBusy, 0, 50), pmW(2, wsIdle, 5, 50), pmW(3, wsIdle, 4, 50), pmW(4, wsIdle, 6, 50)},
				now:    pmAt(60),
				want:   pmAction{retire: []int{3}},
				wantSt: r(1),
			}},
		},
		{
			name: "ties on start time go to the lower pid",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(1),
			steps: []pmStep{{
				ws:     []workerSnap{pmW(9, wsIdle, 1, 5), pmW(7, wsIdle, 1, 5), pmW(8, wsIdle, 1, 5)},
				now:    pmAt(60),
				want:   pmAction{retire: []int{7}},
				wantSt: r(1),
			}},
		},
		{
			name: "already retiring and still idle → kill",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(1),
			steps: []pmStep{
				{
					ws:      []workerSnap{pmW(5, wsIdle, 1, 5), pmW(6, wsIdle, 2, 5), pmW(7, wsIdle, 3, 5)},
					now:     pmAt(10),
					want:    pmAction{retire: []int{5}},
					wantSt:  r(1),
					comment: "(first pick: graceful signal)",
				},
				{
					// 5 ignored the graceful signal: it is still there and idle.
					ws:      []workerSnap{pmRetiring(pmW(5, wsIdle, 1, 5)), pmW(6, wsIdle, 2, 5), pmW(7, wsIdle, 3, 5)},
					now:     pmAt(11),
					want:    pmAction{kill: []int{5}},
					wantSt:  r(1),
					comment: "(picked again: SIGKILL)",
				},
			},
		},
		{
			name: "a retiring worker that took a request is not picked; the next oldest idle one is",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(1),
			steps: []pmStep{{
				ws:     []workerSnap{pmRetiring(pmW(5, wsBusy, 1, 9)), pmW(6, wsIdle, 2, 5), pmW(7, wsIdle, 3, 5), pmW(8, wsIdle, 4, 5)},
				now:    pmAt(10),
				want:   pmAction{retire: []int{6}},
				wantSt: r(1),
			}},
		},
		{
			name: "one retire per tick even far above max_spare",
			pc:   pmDynamic(40, 2, 1, 2, 32), st: r(1),
			steps: []pmStep{{
				ws:     pmN(30, wsIdle, 100, 0, 1),
				now:    pmAt(10),
				want:   pmAction{retire: []int{100}},
				wantSt: r(1),
			}},
		},
		{
			name: "starting workers are never retired (only starting ones above max_spare → nothing, rate resets)",
			pc:   pmDynamic(10, 2, 1, 2, 32), st: r(4),
			steps: []pmStep{{
				ws:     pmCat(pmN(3, wsStarting, 10, 9, 9), pmN(2, wsBusy, 20, 0, 1)),
				now:    pmAt(10),
				want:   pmAction{},
				wantSt: r(1),
			}},
		},
		{
			name: "starting workers count as spare: no spawn while they start",
			pc:   pmDynamic(10, 2, 2, 4, 32), st: r(2),
			steps: []pmStep{{
				ws:     pmCat(pmN(3, wsBusy, 10, 0, 1), pmN(2, wsStarting, 20, 9, 9)),
				now:    pmAt(10),
				want:   pmAction{debug: "currently 3 active children, 2 spare children, 5 running children. Spawning rate 2"},
				wantSt: r(1),
			}},
		},
		{
			name: "ending workers count toward max_children but not as spare",
			pc:   pmDynamic(4, 2, 2, 3, 32), st: r(1),
			steps: []pmStep{{
				ws:  pmCat(pmN(3, wsBusy, 10, 0, 1), pmN(1, wsEnding, 20, 0, 9)),
				now: pmAt(10),
				want: pmAction{maxChildrenReached: true, warning: maxMsg(4),
					debug: "currently 4 active children, 0 spare children, 4 running children. Spawning rate 1"},
				wantSt: rw(1),
			}},
		},
		{
			name: "spawn capped by min_spare - idle",
			pc:   pmDynamic(40, 5, 5, 10, 32), st: r(8),
			steps: []pmStep{{
				ws:     pmCat(pmN(10, wsBusy, 10, 0, 1), pmN(3, wsIdle, 30, 0, 1)),
				now:    pmAt(10),
				want:   pmAction{spawn: 2, busyWarning: busyMsg(8, 3, 13)},
				wantSt: r(16),
			}},
		},
		{
			name: "spawn capped by max_children - running",
			pc:   pmDynamic(12, 5, 5, 10, 32), st: r(4),
			steps: []pmStep{{
				ws:     pmN(11, wsBusy, 10, 0, 1),
				now:    pmAt(10),
				want:   pmAction{spawn: 1},
				wantSt: r(8),
			}},
		},
		{
			name: "spawn rate doubles 1,2,4,8 across ticks then capped by max_spawn_rate",
			pc:   pmDynamic(100, 10, 20, 25, 8), st: r(1),
			steps: []pmStep{
				{ws: pmN(10, wsBusy, 100, 0, 1), now: pmAt(1), want: pmAction{spawn: 1}, wantSt: r(2)},
				{ws: pmN(11, wsBusy, 100, 0, 1), now: pmAt(2), want: pmAction{spawn: 2}, wantSt: r(4)},
				{ws: pmN(13, wsBusy, 100, 0, 1), now: pmAt(3), want: pmAction{spawn: 4}, wantSt: r(8)},
				{ws: pmN(17, wsBusy, 100, 0, 1), now: pmAt(4), want: pmAction{spawn: 8, busyWarning: busyMsg(8, 0, 17)}, wantSt: r(8)},
				{ws: pmN(25, wsBusy, 100, 0, 1), now: pmAt(5), want: pmAction{spawn: 8, busyWarning: busyMsg(8, 0, 25)}, wantSt: r(8)},
			},
		},
		{
			name: "spawn rate overshoots a max_spawn_rate that is not a power of two (10: 8 → 16)",
			pc:   pmDynamic(100, 10, 50, 60, 10), st: r(8),
			steps: []pmStep{
				{ws: pmN(10, wsBusy, 100, 0, 1), now: pmAt(1), want: pmAction{spawn: 8, busyWarning: busyMsg(8, 0, 10)}, wantSt: r(16)},
				{ws: pmN(18, wsBusy, 100, 0, 1), now: pmAt(2), want: pmAction{spawn: 16, busyWarning: busyMsg(16, 0, 18)}, wantSt: r(16)},
			},
		},
		{
			name: "max_spawn_rate 1 never doubles",
			pc:   pmDynamic(100, 10, 20, 25, 1), st: r(1),
			steps: []pmStep{
				{ws: pmN(10, wsBusy, 100, 0, 1), now: pmAt(1), want: pmAction{spawn: 1}, wantSt: r(1)},
			},
		},
		{
			name: "rate resets after a tick without spawning",
			pc:   pmDynamic(100, 10, 2, 5, 32), st: r(1),
			steps: []pmStep{
				{ws: pmN(10, wsBusy, 100, 0, 1), now: pmAt(1), want: pmAction{spawn: 1}, wantSt: r(2)},
				{ws: pmN(11, wsBusy, 100, 0, 1), now: pmAt(2), want: pmAction{spawn: 2}, wantSt: r(4)},
				{
					ws: pmCat(pmN(11, wsBusy, 100, 0, 1), pmN(2, wsIdle, 200, 2, 2)), now: pmAt(3),
					want: pmAction{}, wantSt: r(1), comment: "(idle within [min_spare, max_spare])",
				},
				{ws: pmN(13, wsBusy, 100, 0, 1), now: pmAt(4), want: pmAction{spawn: 1}, wantSt: r(2), comment: "(starts again at 1)"},
			},
		},
		{
			name: "max_children warning once per episode, again after a successful spawn",
			pc:   pmDynamic(4, 2, 2, 3, 32), st: r(2),
			steps: []pmStep{
				{ws: pmN(4, wsBusy, 10, 0, 1), now: pmAt(1), want: pmAction{maxChildrenReached: true, warning: maxMsg(4)}, wantSt: rw(1), comment: "(episode starts)"},
				{ws: pmN(4, wsBusy, 10, 0, 1), now: pmAt(2), want: pmAction{}, wantSt: rw(1), comment: "(same episode: silent)"},
				{ws: pmN(4, wsBusy, 10, 0, 1), now: pmAt(3), want: pmAction{}, wantSt: rw(1), comment: "(same episode: silent)"},
				{ws: pmCat(pmN(2, wsBusy, 10, 0, 1), pmN(2, wsIdle, 20, 0, 3)), now: pmAt(4), want: pmAction{}, wantSt: rw(1), comment: "(idle within range is not a spawn: flag stays)"},
				{ws: pmN(3, wsBusy, 10, 0, 1), now: pmAt(5), want: pmAction{spawn: 1}, wantSt: r(2), comment: "(a spawn ends the episode)"},
				{ws: pmN(4, wsBusy, 10, 0, 1), now: pmAt(6), want: pmAction{maxChildrenReached: true, warning: maxMsg(4)}, wantSt: rw(1), comment: "(new episode)"},
			},
		},
		{
			name: "seems busy at rate 8",
			pc:   pmDynamic(40, 20, 20, 25, 32), st: r(8),
			steps: []pmStep{{
				ws:     pmCat(pmN(27, wsBusy, 100, 0, 1), pmN(2, wsIdle, 200, 1, 1)),
				now:    pmAt(5),
				want:   pmAction{spawn: 8, busyWarning: busyMsg(8, 2, 29)},
				wantSt: r(16),
			}},
		},
		{
			name: "no seems busy at rate 4",
			pc:   pmDynamic(40, 20, 20, 25, 32), st: r(4),
			steps: []pmStep{{
				ws:     pmN(27, wsBusy, 100, 0, 1),
				now:    pmAt(5),
				want:   pmAction{spawn: 4},
				wantSt: r(8),
			}},
		},
		{
			name: "no seems busy at max_children: the warning is the max_children one",
			pc:   pmDynamic(27, 20, 20, 25, 32), st: r(8),
			steps: []pmStep{{
				ws:     pmN(27, wsBusy, 100, 0, 1),
				now:    pmAt(5),
				want:   pmAction{maxChildrenReached: true, warning: maxMsg(27)},
				wantSt: rw(1),
			}},
		},
		{
			name: "zero pmState reads as rate 1",
			pc:   pmDynamic(40, 20, 20, 25, 32), st: pmState{},
			steps: []pmStep{{
				ws:     pmN(20, wsBusy, 100, 0, 1),
				now:    pmAt(1),
				want:   pmAction{spawn: 1, debug: "currently 20 active children, 0 spare children, 20 running children. Spawning rate 1"},
				wantSt: r(2),
			}},
		},
		{
			name: "empty pool below min_spare spawns at the current rate",
			pc:   pmDynamic(10, 3, 3, 5, 32), st: r(1),
			steps: []pmStep{{
				now:    pmAt(1),
				want:   pmAction{spawn: 1, debug: "currently 0 active children, 0 spare children, 0 running children. Spawning rate 1"},
				wantSt: r(2),
			}},
		},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { pmRun(t, decide, r) })
	}
}

func TestDecideOndemand(t *testing.T) {
	st := pmState{spawnRate: 1}
	stw := pmState{spawnRate: 1, warnedMaxChildren: true}
	rows := []pmRow{
		{name: "ondemand: idle for exactly the timeout → retire", pc: pmOndemand(5, 10*time.Second), st: st, steps: []pmStep{{
			ws:     []workerSnap{pmW(1, wsIdle, 0, 5)},
			now:    pmAt(15),
			want:   pmAction{retire: []int{1}, debug: "currently 0 active children, 1 spare children"},
			wantSt: st,
		}}},
		{name: "ondemand: idle just under the timeout → nothing", pc: pmOndemand(5, 10*time.Second), st: st, steps: []pmStep{{
			ws:     []workerSnap{pmW(1, wsIdle, 0, 5)},
			now:    pmAt(14.999),
			want:   pmAction{},
			wantSt: st,
		}}},
		{name: "ondemand: sub-second timeout compared exactly", pc: pmOndemand(5, 1500*time.Millisecond), st: st, steps: []pmStep{
			{ws: []workerSnap{pmW(1, wsIdle, 0, 1)}, now: pmAt(2.4), want: pmAction{}, wantSt: st},
			{ws: []workerSnap{pmW(1, wsIdle, 0, 1)}, now: pmAt(2.5), want: pmAction{retire: []int{1}}, wantSt: st},
		}},
		{
			// 1 is the oldest-started but has been idle 4s; 2 has been idle 12s.
			name: "ondemand: picks the oldest-started idle one, not the longest idle; not timed out → nothing this tick",
			pc:   pmOndemand(5, 5*time.Second), st: st,
			steps: []pmStep{
				{ws: []workerSnap{pmW(2, wsIdle, 10, 12), pmW(1, wsIdle, 0, 20)}, now: pmAt(24), want: pmAction{}, wantSt: st},
				{ws: []workerSnap{pmW(2, wsIdle, 10, 12), pmW(1, wsIdle, 0, 20)}, now: pmAt(25), want: pmAction{retire: []int{1}}, wantSt: st},
			},
		},
		{name: "ondemand: at most one retire per tick", pc: pmOndemand(5, time.Second), st: st, steps: []pmStep{{
			ws:     []workerSnap{pmW(3, wsIdle, 3, 3), pmW(1, wsIdle, 1, 1), pmW(2, wsIdle, 2, 2)},
			now:    pmAt(100),
			want:   pmAction{retire: []int{1}},
			wantSt: st,
		}}},
		{name: "ondemand: already retiring and still idle → kill", pc: pmOndemand(5, 3*time.Second), st: st, steps: []pmStep{
			{ws: []workerSnap{pmW(1, wsIdle, 0, 1), pmW(2, wsIdle, 1, 1)}, now: pmAt(4), want: pmAction{retire: []int{1}}, wantSt: st},
			{ws: []workerSnap{pmRetiring(pmW(1, wsIdle, 0, 1)), pmW(2, wsIdle, 1, 1)}, now: pmAt(5), want: pmAction{kill: []int{1}}, wantSt: st},
		}},
		{name: "ondemand: busy, starting and ending workers are never retired", pc: pmOndemand(5, time.Second), st: st, steps: []pmStep{{
			ws:     []workerSnap{pmW(1, wsBusy, 0, 0), pmW(2, wsStarting, 1, 1), pmW(3, wsEnding, 2, 2)},
			now:    pmAt(100),
			want:   pmAction{debug: "currently 2 active children, 1 spare children"},
			wantSt: st,
		}}},
		{name: "ondemand: the tick never spawns and leaves the warn flag alone", pc: pmOndemand(2, time.Second), st: stw, steps: []pmStep{{
			now:    pmAt(100),
			want:   pmAction{debug: "currently 0 active children, 0 spare children"},
			wantSt: stw,
		}}},
		{name: "ondemand: shrinks by one per tick (3s timeout, 3 workers)", pc: pmOndemand(5, 3*time.Second), st: st, steps: []pmStep{
			{ws: []workerSnap{pmW(1, wsIdle, 0, 1), pmW(2, wsIdle, 0.5, 1), pmW(3, wsIdle, 0.7, 1)}, now: pmAt(4), want: pmAction{retire: []int{1}}, wantSt: st},
			{ws: []workerSnap{pmW(2, wsIdle, 0.5, 1), pmW(3, wsIdle, 0.7, 1)}, now: pmAt(5), want: pmAction{retire: []int{2}}, wantSt: st},
			{ws: []workerSnap{pmW(3, wsIdle, 0.7, 1)}, now: pmAt(6), want: pmAction{retire: []int{3}}, wantSt: st},
			{now: pmAt(7), want: pmAction{}, wantSt: st},
		}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { pmRun(t, decide, r) })
	}
}

func TestOndemandConnectionWaiting(t *testing.T) {
	st := pmState{spawnRate: 1}
	stw := pmState{spawnRate: 1, warnedMaxChildren: true}
	forked := "got accept without idle child available .... I forked"
	maxMsg := "server reached max_children setting (2), consider raising it"
	rows := []pmRow{
		{name: "ondemand: 0 workers and a waiting connection → spawn 1", pc: pmOndemand(3, time.Second), st: st, steps: []pmStep{{
			now: pmAt(1), want: pmAction{spawn: 1, debug: forked}, wantSt: st,
		}}},
		{name: "ondemand: zero pmState is valid (rate reads as 1)", pc: pmOndemand(3, time.Second), st: pmState{}, steps: []pmStep{{
			now: pmAt(1), want: pmAction{spawn: 1}, wantSt: st,
		}}},
		{name: "ondemand: a starting worker → no spawn", pc: pmOndemand(3, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsStarting, 0.9, 0.9)}, now: pmAt(1), want: pmAction{}, wantSt: st,
		}}},
		{name: "ondemand: an idle worker → no spawn", pc: pmOndemand(3, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsBusy, 0, 0.5), pmW(2, wsIdle, 0, 0.5)}, now: pmAt(1), want: pmAction{}, wantSt: st,
		}}},
		{name: "ondemand: all busy below max_children → spawn 1 and the episode ends", pc: pmOndemand(3, time.Second), st: stw, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsBusy, 0, 0.5), pmW(2, wsBusy, 0, 0.5)}, now: pmAt(1), want: pmAction{spawn: 1}, wantSt: st,
		}}},
		{name: "ondemand: only a retiring idle worker → spawn 1 (it will not accept)", pc: pmOndemand(3, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmRetiring(pmW(1, wsIdle, 0, 0.5))}, now: pmAt(1), want: pmAction{spawn: 1}, wantSt: st,
		}}},
		{name: "ondemand: an ending worker is no capacity → spawn 1", pc: pmOndemand(3, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsEnding, 0, 0.5)}, now: pmAt(1), want: pmAction{spawn: 1}, wantSt: st,
		}}},
		{name: "ondemand at max_children → warning once", pc: pmOndemand(2, time.Second), st: st, steps: []pmStep{
			{ws: pmN(2, wsBusy, 1, 0, 0), now: pmAt(1), want: pmAction{maxChildrenReached: true, warning: maxMsg}, wantSt: stw, comment: "(episode starts)"},
			{ws: pmN(2, wsBusy, 1, 0, 0), now: pmAt(1.1), want: pmAction{}, wantSt: stw, comment: "(same episode: silent)"},
			{ws: pmN(1, wsBusy, 1, 0, 0), now: pmAt(2), want: pmAction{spawn: 1, debug: forked}, wantSt: st, comment: "(one exited: fork, episode ends)"},
			{ws: pmN(2, wsBusy, 1, 0, 0), now: pmAt(3), want: pmAction{maxChildrenReached: true, warning: maxMsg}, wantSt: stw, comment: "(new episode)"},
		}},
		{name: "ondemand: max_children is checked before idle workers (php-fpm order)", pc: pmOndemand(2, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsBusy, 0, 0), pmW(2, wsIdle, 0, 0)}, now: pmAt(1), want: pmAction{maxChildrenReached: true, warning: maxMsg}, wantSt: stw,
		}}},
		{name: "ondemand: ending workers count toward max_children", pc: pmOndemand(2, time.Second), st: st, steps: []pmStep{{
			ws: []workerSnap{pmW(1, wsBusy, 0, 0), pmW(2, wsEnding, 0, 0)}, now: pmAt(1), want: pmAction{maxChildrenReached: true, warning: maxMsg}, wantSt: stw,
		}}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { pmRun(t, onConnectionWaiting, r) })
	}
}

// TestDynamicSimulationPHPFPMTrace replays the observed php-fpm trace of
// PHP-FPM.md §2.4 tick by tick: max_children=40, start=20, min_spare=20,
// max_spare=25, max_spawn_rate=8, then 30 concurrent long requests, then
// the load drops to 9 requests.
func TestDynamicSimulationPHPFPMTrace(t *testing.T) {
	pc := pmDynamic(40, 20, 20, 25, 8)
	type proc struct {
		pid      int
		started  time.Time
		retiring bool
	}
	var procs []proc
	nextPid := 1000
	spawn := func(n int, now time.Time) {
		for range n {
			procs = append(procs, proc{pid: nextPid, started: now})
			nextPid++
		}
	}
	spawn(startCount(pc), pmT0)
	if len(procs) != 20 {
		t.Fatalf("startCount = %d, want 20", len(procs))
	}

	// snapshot: every worker is alive and accepting; the ones whose pid is
	// in busy serve a request, the others are idle. The slice is built in
	// reverse so that the decision cannot rely on slice order.
	snapshot := func(busy map[int]bool, now time.Time) []workerSnap {
		ws := make([]workerSnap, 0, len(procs))
		for i := len(procs) - 1; i >= 0; i-- {
			p := procs[i]
			st := wsIdle
			if busy[p.pid] {
				st = wsBusy
			}
			ws = append(ws, workerSnap{pid: p.pid, state: st, started: p.started, since: now.Add(-500 * time.Millisecond), retiring: p.retiring})
		}
		return ws
	}
	// busyFirst makes the first n workers (in start order) busy: 30
	// concurrent requests are taken by whoever exists, oldest first.
	busyFirst := func(n int) map[int]bool {
		m := map[int]bool{}
		for i := 0; i < len(procs) && i < n; i++ {
			m[procs[i].pid] = true
		}
		return m
	}

	st := pmState{spawnRate: 1}
	busyText := func(rate, idle, total int) string {
		return fmt.Sprintf("seems busy (you may need to increase pm_start_servers, or pm_min/max_spare_servers), spawning %d children, there are %d idle, and %d total children", rate, idle, total)
	}
	type want struct {
		debug   string
		spawn   int
		busy    string
		warning string
	}
	// Phase 1: 30 concurrent requests.
	phase1 := []want{
		{"currently 20 active children, 0 spare children, 20 running children. Spawning rate 1", 1, "", ""},
		{"currently 21 active children, 0 spare children, 21 running children. Spawning rate 2", 2, "", ""},
		{"currently 23 active children, 0 spare children, 23 running children. Spawning rate 4", 4, "", ""},
		{"currently 27 active children, 0 spare children, 27 running children. Spawning rate 8", 8, busyText(8, 0, 27), ""},
		{"currently 30 active children, 5 spare children, 35 running children. Spawning rate 8", 5, busyText(8, 5, 35), ""},
		{"currently 30 active children, 10 spare children, 40 running children. Spawning rate 8", 0, "", "server reached pm_max_children setting (40), consider raising it"},
		{"currently 30 active children, 10 spare children, 40 running children. Spawning rate 1", 0, "", ""},
	}
	tick := 0
	for i, w := range phase1 {
		tick++
		now := pmAt(float64(tick))
		a, ns := decide(pc, st, snapshot(busyFirst(30), now), now)
		if a.debug != w.debug || a.spawn != w.spawn || a.busyWarning != w.busy || a.warning != w.warning ||
			a.maxChildrenReached != (w.warning != "") || a.retire != nil || a.kill != nil {
			t.Fatalf("phase 1 tick %d:\n got %s\nwant debug %q spawn %d busy %q warning %q", i+1, pmFmtAction(a), w.debug, w.spawn, w.busy, w.warning)
		}
		st = ns
		spawn(a.spawn, now)
	}
	if !st.warnedMaxChildren || st.spawnRate != 1 {
		t.Fatalf("after phase 1: state %+v, want rate 1 and warned", st)
	}

	// Phase 2: the load drops to 9 requests. The busy ones include the
	// oldest process (pid 1000) and some others spread over the pool, so
	// "oldest idle" differs from "oldest".
	busy := map[int]bool{}
	for _, pid := range []int{1000, 1001, 1003, 1005, 1020, 1022, 1030, 1035, 1039} {
		busy[pid] = true
	}
	// Expected retires: idle workers in start order, skipping busy ones,
	// until idle <= max_spare (31 → 25: six retires).
	var wantRetired []int
	for _, p := range procs {
		if !busy[p.pid] && len(wantRetired) < 6 {
			wantRetired = append(wantRetired, p.pid)
		}
	}
	var gotRetired []int
	for i := 0; i < 8; i++ {
		tick++
		now := pmAt(float64(tick))
		ws := snapshot(busy, now)
		a, ns := decide(pc, st, ws, now)
		idle := len(procs) - 9
		wantDebug := fmt.Sprintf("currently 9 active children, %d spare children, %d running children. Spawning rate 1", idle, len(procs))
		if a.debug != wantDebug {
			t.Errorf("phase 2 tick %d: debug %q, want %q", i+1, a.debug, wantDebug)
		}
		if a.spawn != 0 || a.kill != nil || a.busyWarning != "" || a.maxChildrenReached {
			t.Fatalf("phase 2 tick %d: unexpected action %s", i+1, pmFmtAction(a))
		}
		if idle > 25 {
			if len(a.retire) != 1 {
				t.Fatalf("phase 2 tick %d: idle %d > 25, got %s, want exactly one retire", i+1, idle, pmFmtAction(a))
			}
		} else if a.retire != nil {
			t.Fatalf("phase 2 tick %d: idle %d <= 25, got retire %v", i+1, idle, a.retire)
		}
		st = ns
		// Each retired worker honours the graceful signal and is reaped
		// before the next tick (php-fpm: "killed by the process management").
		for _, pid := range a.retire {
			if busy[pid] {
				t.Fatalf("phase 2 tick %d: retired busy worker %d", i+1, pid)
			}
			gotRetired = append(gotRetired, pid)
			procs = slices.DeleteFunc(procs, func(p proc) bool { return p.pid == pid })
		}
	}
	if !slices.Equal(gotRetired, wantRetired) {
		t.Errorf("retired %v, want %v (oldest-started idle first, one per tick)", gotRetired, wantRetired)
	}
	if !sort.IntsAreSorted(gotRetired) {
		t.Errorf("retired %v not in start order", gotRetired)
	}
	if len(procs) != 34 {
		t.Errorf("%d workers left, want 34 (9 busy + 25 idle)", len(procs))
	}
	// The max_children episode is still open: nothing was spawned since.
	if !st.warnedMaxChildren || st.spawnRate != 1 {
		t.Errorf("after phase 2: state %+v, want rate 1 and still warned", st)
	}
}
