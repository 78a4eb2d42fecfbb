package fpm

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// signalByName resolves "SIGQUIT", "QUIT" or "sigquit".
func signalByName(name string) (unix.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if s := unix.SignalNum(n); s != 0 {
		return s, nil
	}
	return 0, fmt.Errorf("unknown signal %q", name)
}

// signalName returns "SIGKILL" for 9, as php-fpm's child exit lines do.
func signalName(s unix.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
