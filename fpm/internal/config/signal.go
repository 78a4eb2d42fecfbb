package config

// Signal names: worker_graceful_signal is parsed here, once, and the
// master's log lines name signals the way php-fpm's do.

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// canonicalSignal turns "quit", "QUIT" or "sigquit" into "SIGQUIT".
func canonicalSignal(s string) string {
	n := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	return n
}

// ParseSignal resolves "SIGQUIT", "QUIT" or "sigquit".
func ParseSignal(name string) (unix.Signal, error) {
	if s := unix.SignalNum(canonicalSignal(name)); s != 0 {
		return s, nil
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}

// SignalName returns "SIGKILL" for 9, as php-fpm's child exit lines do.
func SignalName(s unix.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
