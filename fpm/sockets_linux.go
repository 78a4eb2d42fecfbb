package fpm

// The lookups behind naming the process that holds an address
// (fpm/internal/sockdiag plus fpm/internal/procfs), given to the socket set
// as its Probe.

import (
	"github.com/gofpm/gofpm/fpm/internal/procfs"
	"github.com/gofpm/gofpm/fpm/internal/sockdiag"
	"github.com/gofpm/gofpm/fpm/internal/sockets"
)

// sockProbe is how the socket set names the holder of an address.
func sockProbe() sockets.Probe {
	return sockets.Probe{
		UnixListener: sockdiag.UnixListenerAt,
		TCPListeners: sockdiag.TCPListenersOn,
		Holders:      procfs.SocketHolders,
		Comm:         procComm,
		PPID:         procPPID,
	}
}

func procComm(pid int) string {
	c, err := procfs.Comm(pid)
	if err != nil {
		return "?"
	}
	return c
}

func procPPID(pid int) int {
	st, _ := procfs.ReadStat(pid)
	return st.PPID
}
