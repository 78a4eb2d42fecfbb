package main

// This file owns the master's signals: it maps each onto the master's
// controls, as php-fpm answers them.

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/gofpm/gofpm/fpm"
	"golang.org/x/sys/unix"
)

// handleSignals starts forwarding the master's signals to m; the function
// it returns stops that. Call it before m.Run, so that no signal is missed
// while the master starts: the master carries out what came once its pools
// are up.
func handleSignals(m *fpm.Master) (stop func()) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, masterSignals...)
	done := make(chan struct{})
	go forwardSignals(m, sigs, done)
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// masterSignals are the signals a master answers, as php-fpm's.
var masterSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGHUP}

// forwardSignals turns the master's signals into its controls until done
// is closed: SIGINT and SIGTERM stop fast, SIGQUIT gracefully, SIGUSR1
// reopens the log files, SIGUSR2 and SIGHUP reload.
func forwardSignals(m *fpm.Master, sigs <-chan os.Signal, done <-chan struct{}) {
	for {
		var s os.Signal
		select {
		case s = <-sigs:
		case <-done:
			return
		}
		sig, _ := s.(syscall.Signal)
		c := m.Signalled(unix.SignalName(sig))
		switch sig {
		case unix.SIGINT, unix.SIGTERM:
			c.Stop(false)
		case unix.SIGQUIT:
			c.Stop(true)
		case unix.SIGUSR1:
			c.Reopen()
		case unix.SIGUSR2, unix.SIGHUP:
			c.Reload()
		}
	}
}
