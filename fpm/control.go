package fpm

// This file is how a master is driven: Reload, Reopen and Stop, safe to
// call from any goroutine, become commands to Run's loop. The loop never
// waits on what they start: a reload and a log reopen run beside it and
// report back, and the stop runs beside it too, so a Stop(false) during a
// reload or during a graceful stop is carried out at once.

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/rs/zerolog"
)

// commandKind is what a command asks.
type commandKind int

const (
	cmdStop commandKind = iota
	cmdReopen
	cmdReload
)

// command is one request to the master's loop.
type command struct {
	kind     commandKind
	graceful bool   // cmdStop
	signal   string // the signal it came from, for the log; "" when none
}

// Control are the master's controls as a signal handler uses them: what is
// asked through them is logged with the signal's name, as before the
// signals moved to main.
type Control struct {
	m      *Master
	signal string
}

// Signalled returns the master's controls for requests that come from the
// signal named (SIGTERM, ...).
func (m *Master) Signalled(signal string) Control { return Control{m: m, signal: signal} }

// Reload starts a graceful reload (SIGUSR2, SIGHUP): the configuration is
// validated, a new master takes the sockets over, and once it is ready this
// one retires its workers gracefully and Run returns. It does not wait.
func (m *Master) Reload() { m.Signalled("").Reload() }

// Reopen reopens the log files and recycles the workers (SIGUSR1). It does
// not wait.
func (m *Master) Reopen() { m.Signalled("").Reopen() }

// Stop stops the master: graceful (SIGQUIT) lets requests in flight finish
// within process_control_timeout; fast (SIGINT, SIGTERM) stops at once, and
// turns a graceful stop under way fast. It does not wait: Run returns when
// the stop is done.
func (m *Master) Stop(graceful bool) { m.Signalled("").Stop(graceful) }

// Reload is Master.Reload.
func (c Control) Reload() { c.m.send(command{kind: cmdReload, signal: c.signal}) }

// Reopen is Master.Reopen.
func (c Control) Reopen() { c.m.send(command{kind: cmdReopen, signal: c.signal}) }

// Stop is Master.Stop.
func (c Control) Stop(graceful bool) {
	c.m.send(command{kind: cmdStop, graceful: graceful, signal: c.signal})
}

// send hands c to the loop; after Run returned it is dropped.
func (m *Master) send(c command) {
	select {
	case m.cmds <- c:
	case <-m.done:
	}
}

// reloadResult is what a reload beside the loop reports.
type reloadResult struct {
	successor int // pid of the new master, ready; 0 on error
	err       error
}

// withSignal adds the signal's name to a log line, when there is one.
func withSignal(c command) func(e *zerolog.Event) *zerolog.Event {
	return func(e *zerolog.Event) *zerolog.Event {
		if c.signal != "" {
			return e.Str("signal", c.signal)
		}
		return e
	}
}

// loop carries out the commands until the master has stopped.
func (m *Master) loop(ctx context.Context) {
	var (
		cancelReload chan struct{}         // closed to give up the reload under way; nil when none
		reloadC      chan reloadResult     // the reload under way reports here; nil when none
		again        *command              // a reload asked while one ran
		stopping     bool                  // a stop is under way
		graceful     bool                  // ... and it is graceful
		stopped      = make(chan struct{}) // closed when the stop is done
		ctxDone      = ctx.Done()
	)
	startReload := func(c command) {
		sig := withSignal(c)
		if os.Getpid() == 1 {
			// The reload ends with this master's exit, and the exit of a
			// pid namespace's PID 1 kills everything in it, the new master
			// included.
			sig(m.log.Error()).Msg("reload refused: this master is PID 1 of its container, and a reload ends with the old master's exit, which would end the container; run gofpm under an init (docker run --init, tini) to reload in place, or roll out a new container")
			return
		}
		sig(m.log.Info()).Msg("Reloading in progress ...")
		cancel, done := make(chan struct{}), make(chan reloadResult, 1)
		cancelReload, reloadC = cancel, done
		go func() {
			pid, err := m.reload(cancel)
			done <- reloadResult{pid, err}
		}()
	}
	reloadFailed := func(err error) {
		for _, line := range strings.Split(err.Error(), "\n") {
			m.log.Error().Msgf("reload failed: %s", line)
		}
	}
	reloaded := func(pid int) {
		m.successor = pid
		m.log.Info().Int("successor", pid).Msgf("new master %d is ready; the old workers finish their requests and leave", pid)
	}
	// stop runs beside the loop. A reload under way is given up first
	// (its new master is killed), unless it got ready meanwhile: then the
	// new master keeps the sockets.
	stop := func(g bool) {
		stopping, graceful, ctxDone = true, g, nil
		cancel, results := cancelReload, reloadC
		cancelReload, reloadC, again = nil, nil, nil
		go func() {
			defer close(stopped)
			if cancel != nil {
				close(cancel)
				if r := <-results; r.err != nil {
					reloadFailed(r.err)
				} else {
					reloaded(r.successor)
				}
			}
			if m.successor == 0 {
				sdNotify("STOPPING=1")
			}
			m.stop(g)
		}()
	}
	for {
		select {
		case <-ctxDone:
			stop(false)
		case c := <-m.cmds:
			switch {
			case c.kind == cmdStop && !stopping && c.graceful:
				withSignal(c)(m.log.Info()).Msg("Finishing ...")
				stop(true)
			case c.kind == cmdStop && !stopping:
				withSignal(c)(m.log.Info()).Msg("Terminating ...")
				stop(false)
			case c.kind == cmdStop && graceful && !c.graceful:
				// A fast stop while a graceful one runs turns it fast.
				m.log.Info().Msg("Terminating ...")
				for _, p := range m.pools {
					go p.stop(false)
				}
			case stopping:
				// Nothing else is done once a stop has begun.
			case c.kind == cmdReopen:
				m.beside.Go(m.reopenLogs)
			case c.kind == cmdReload && reloadC != nil:
				again = &c // after this one, if it fails
			case c.kind == cmdReload:
				startReload(c)
			}
		case r := <-reloadC:
			cancelReload, reloadC = nil, nil
			if r.err != nil {
				reloadFailed(r.err)
				if again != nil {
					c := *again
					again = nil
					startReload(c)
				}
				continue
			}
			reloaded(r.successor)
			stop(true)
		case <-stopped:
			return
		}
	}
}

// errStopping is why a reload under way was given up.
var errStopping = errors.New("the master is stopping")
