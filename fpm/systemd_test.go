package fpm

import (
	"testing"
	"time"
)

// TestPlanHeartbeat: systemd_interval, replaced by half of WATCHDOG_USEC
// (with WATCHDOG=1) when that is over a second and meant for this
// process, as php-fpm's fpm_systemd_conf.
func TestPlanHeartbeat(t *testing.T) {
	const pid, ppid = 100, 50
	for _, c := range []struct {
		name         string
		interval     time.Duration
		usec, wpid   string
		reloaded     bool
		want         time.Duration
		wantWatchdog bool
	}{
		{"default", 10 * time.Second, "", "", false, 10 * time.Second, false},
		{"off", 0, "", "", false, 0, false},
		{"watchdog 30s", 10 * time.Second, "30000000", "", false, 15 * time.Second, true},
		{"watchdog replaces off", 0, "30000000", "", false, 15 * time.Second, true},
		{"watchdog for this pid", 10 * time.Second, "4000000", "100", false, 2 * time.Second, true},
		{"watchdog for another pid", 10 * time.Second, "4000000", "77", false, 10 * time.Second, false},
		{"reloaded: the parent's watchdog", 10 * time.Second, "4000000", "50", true, 2 * time.Second, true},
		{"not reloaded: the parent's is not ours", 10 * time.Second, "4000000", "50", false, 10 * time.Second, false},
		{"half of 2s is not over 1s", 10 * time.Second, "2000000", "", false, 10 * time.Second, false},
		{"garbage", 10 * time.Second, "soon", "", false, 10 * time.Second, false},
	} {
		got := planHeartbeat(c.interval, c.usec, c.wpid, pid, ppid, c.reloaded)
		if got.interval != c.want || got.watchdog != c.wantWatchdog {
			t.Errorf("%s: %+v, want interval %s watchdog %v", c.name, got, c.want, c.wantWatchdog)
		}
	}
}

// TestHeartbeatMessage: php-fpm's STATUS= text (fpm_systemd.c), Traffic
// with C's %.3g over the interval.
func TestHeartbeatMessage(t *testing.T) {
	for _, c := range []struct {
		t        heartbeatTotals
		last     uint64
		interval time.Duration
		watchdog bool
		want     string
	}{
		{heartbeatTotals{0, 2, 10, 0}, 10, 10 * time.Second, false,
			"STATUS=Processes active: 0, idle: 2, Requests: 10, slow: 0, Traffic: 0req/sec"},
		{heartbeatTotals{1, 3, 135, 2}, 10, 10 * time.Second, true,
			"WATCHDOG=1\nSTATUS=Processes active: 1, idle: 3, Requests: 135, slow: 2, Traffic: 12.5req/sec"},
		{heartbeatTotals{4, 0, 12345, 0}, 0, time.Second, false,
			"STATUS=Processes active: 4, idle: 0, Requests: 12345, slow: 0, Traffic: 1.23e+04req/sec"},
		{heartbeatTotals{0, 1, 1, 0}, 0, 3 * time.Second, false,
			"STATUS=Processes active: 0, idle: 1, Requests: 1, slow: 0, Traffic: 0.333req/sec"},
		// a counter that went back (cannot happen in one master) shows 0
		{heartbeatTotals{0, 1, 5, 0}, 9, time.Second, false,
			"STATUS=Processes active: 0, idle: 1, Requests: 5, slow: 0, Traffic: 0req/sec"},
	} {
		if got := heartbeatMessage(c.t, c.last, c.interval, c.watchdog); got != c.want {
			t.Errorf("heartbeatMessage(%+v, %d, %s) =\n %q\nwant %q", c.t, c.last, c.interval, got, c.want)
		}
	}
}
