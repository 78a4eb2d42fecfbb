package fpm

// This file speaks to systemd: readiness notifications (Type=notify), the
// STATUS= heartbeat and the watchdog (php-fpm's systemd monitor), and
// socket activation (LISTEN_FDS), with no library. All are no-ops when the
// environment does not ask for them.

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/sockets"
)

// sdNotify sends state ("READY=1", ...) to $NOTIFY_SOCKET, if set.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' { // abstract namespace
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// socketActivation gives socks the sockets systemd passed (LISTEN_FDS,
// fds 3 and up, for this pid), found by their LISTEN_FDNAMES name and by
// their bound address, so pools find them by either.
func socketActivation(socks *sockets.Set) error {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if n <= 0 || pid != os.Getpid() {
		return nil
	}
	return socks.InheritSystemd(n, names)
}

// heartbeatPlan is how the master keeps systemd informed: every interval
// a STATUS= line, with WATCHDOG=1 when systemd's watchdog is on for it.
type heartbeatPlan struct {
	interval time.Duration // 0: no heartbeat
	watchdog bool
}

// planHeartbeat decides the heartbeat as php-fpm does: systemd_interval
// (0 = off), unless WATCHDOG_USEC (microseconds) is set and its half is
// more than a second, which then replaces it and adds WATCHDOG=1.
// WATCHDOG_PID, when set, must be this process, or its parent for a master
// started by a reload (the environment is inherited from the master that
// systemd started; after the handover systemd follows the new MAINPID).
func planHeartbeat(systemdInterval time.Duration, watchdogUsec, watchdogPid string, pid, ppid int, reloaded bool) heartbeatPlan {
	plan := heartbeatPlan{interval: systemdInterval}
	usec, err := strconv.ParseInt(watchdogUsec, 10, 64)
	if err != nil || usec <= 0 {
		return plan
	}
	if watchdogPid != "" {
		wp, err := strconv.Atoi(watchdogPid)
		if err != nil || (wp != pid && !(reloaded && wp == ppid)) {
			return plan
		}
	}
	if half := time.Duration(usec) * time.Microsecond / 2; half > time.Second {
		plan = heartbeatPlan{interval: half, watchdog: true}
	}
	return plan
}

// heartbeatTotals are the status line's figures, summed over the pools.
type heartbeatTotals struct {
	active, idle   int
	requests, slow uint64
}

// heartbeatTotals sums the pools' status; all is false when a pool did
// not answer (its loop hangs, or it has stopped).
func (m *Master) heartbeatTotals() (t heartbeatTotals, all bool) {
	all = true
	for _, p := range m.pools {
		s := p.statusSnapshot()
		if s == nil {
			all = false
			continue
		}
		t.active += s.Active
		t.idle += s.Idle
		t.requests += s.Accepted
		t.slow += s.SlowRequests
	}
	return t, all
}

// heartbeatMessage is php-fpm's notification: "STATUS=Processes active:
// A, idle: I, Requests: R, slow: S, Traffic: Treq/sec", where Traffic is
// the requests since the previous heartbeat (last) per second of the
// interval, printed with C's %.3g, preceded by WATCHDOG=1 when asked.
// php-fpm also repeats READY=1; gofpm does not, since the old master's
// READY=1 during a reload would tell systemd the reload had finished
// before the new master took over.
func heartbeatMessage(t heartbeatTotals, last uint64, interval time.Duration, watchdog bool) string {
	var b strings.Builder
	if watchdog {
		b.WriteString("WATCHDOG=1\n")
	}
	traffic := float32(0)
	if interval > 0 && t.requests >= last {
		traffic = float32(t.requests-last) * 1000 / float32(interval.Milliseconds())
	}
	fmt.Fprintf(&b, "STATUS=Processes active: %d, idle: %d, Requests: %d, slow: %d, Traffic: %sreq/sec",
		t.active, t.idle, t.requests, t.slow, formatG3(float64(traffic)))
	return b.String()
}

// formatG3 is C's printf("%.3g"): Go's %g differs only in dropping a
// trailing ".0" that C also drops, and agrees on the exponent form
// ("1.23e+03"), so this is %.3g with C's spelling of the special values.
func formatG3(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// systemdMonitor is php-fpm's systemd monitor: after READY=1, the
// heartbeat of planHeartbeat until stop is closed. WATCHDOG=1 is sent only
// when every pool answered its report, so that a pool loop that hangs
// lets systemd's watchdog restart the service.
func (m *Master) systemdMonitor(stop <-chan struct{}) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	plan := planHeartbeat(m.cfg.SystemdInterval.D(), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid(), os.Getppid(), m.reloaded)
	switch {
	case plan.interval <= 0:
		m.log.Info().Msg("systemd monitor disabled")
		return
	case plan.watchdog:
		m.log.Info().Msgf("systemd watchdog configured to %ssec", formatG3(plan.interval.Seconds()))
	default:
		m.log.Info().Msgf("systemd monitor interval set to %dms", plan.interval.Milliseconds())
	}
	tick := time.NewTicker(plan.interval)
	defer tick.Stop()
	var last uint64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		t, all := m.heartbeatTotals()
		if err := sdNotify(heartbeatMessage(t, last, plan.interval, plan.watchdog && all)); err != nil {
			m.log.Info().Err(err).Msg("failed to notify status to systemd")
		}
		last = t.requests
	}
}
