package fpm

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckNoAccept: the never-accepts warning, tick by tick with explicit
// times.
func TestCheckNoAccept(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type tick struct {
		at                 time.Duration
		queued, busy, live int
		accepted           uint64
		warn               bool
	}
	for _, tc := range []struct {
		name  string
		ticks []tick
	}{
		{"queue waits 10s, nobody busy → warn once", []tick{
			{0, 2, 0, 1, 0, false}, {5 * time.Second, 3, 0, 1, 0, false},
			{10 * time.Second, 3, 0, 1, 0, true}, {11 * time.Second, 4, 0, 1, 0, false}, {60 * time.Second, 4, 0, 1, 0, false},
		}},
		{"9s is not enough", []tick{
			{0, 1, 0, 1, 0, false}, {9 * time.Second, 1, 0, 1, 0, false},
		}},
		{"queue empties → the stretch restarts", []tick{
			{0, 1, 0, 1, 0, false}, {6 * time.Second, 0, 0, 1, 0, false},
			{7 * time.Second, 1, 0, 1, 0, false}, {16 * time.Second, 1, 0, 1, 0, false}, {17 * time.Second, 1, 0, 1, 0, true},
		}},
		{"all workers busy: full, not stuck", []tick{
			{0, 5, 2, 2, 0, false}, {30 * time.Second, 5, 2, 2, 0, false},
		}},
		{"workers accept between ticks → no warning", []tick{
			{0, 1, 0, 1, 10, false}, {5 * time.Second, 1, 0, 1, 11, false}, {12 * time.Second, 1, 0, 1, 11, false},
			{16 * time.Second, 1, 0, 1, 11, false}, {22 * time.Second, 1, 0, 1, 11, true},
		}},
		{"no worker alive (back-off): not this warning", []tick{
			{0, 3, 0, 0, 0, false}, {20 * time.Second, 3, 0, 0, 0, false},
		}},
		{"warned, then a worker takes one, then stuck again → warn again", []tick{
			{0, 1, 0, 1, 0, false}, {10 * time.Second, 1, 0, 1, 0, true},
			{11 * time.Second, 1, 1, 1, 1, false}, {12 * time.Second, 1, 0, 1, 1, false}, {22 * time.Second, 1, 0, 1, 1, true},
		}},
	} {
		var st noAcceptState
		for i, k := range tc.ticks {
			var warn bool
			st, warn = checkNoAccept(st, t0.Add(k.at), k.queued, k.busy, k.live, k.accepted)
			if warn != k.warn {
				t.Errorf("%s: tick %d (%s): warn %v, want %v", tc.name, i, k.at, warn, k.warn)
			}
		}
	}
}

// TestLogFileWriteErrors: a log file that cannot be written returns its
// error once a minute, counting the lines lost meanwhile.
func TestLogFileWriteErrors(t *testing.T) {
	l := &LogFile{path: "/x/error.log"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := syscall.ENOSPC
	for i, tc := range []struct {
		at   time.Duration
		want string // "" = no error returned
	}{
		{0, "writing log file /x/error.log: no space left on device (1 line(s) lost; reported once a minute at most)"},
		{time.Second, ""},
		{30 * time.Second, ""},
		{59 * time.Second, ""},
		{60 * time.Second, "(4 line(s) lost;"},
		{61 * time.Second, ""},
	} {
		n, err := l.failed(full, t0.Add(tc.at), 10)
		switch {
		case tc.want == "" && (err != nil || n != 10):
			t.Errorf("write %d: %d, %v; want 10, nil", i, n, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, syscall.ENOSPC)):
			t.Errorf("write %d: %v; want an error containing %q", i, err, tc.want)
		}
	}
}
