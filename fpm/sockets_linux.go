package fpm

// The lookups behind naming the process that holds an address (sock_diag
// plus /proc/PID/fd), given to the socket set as its Probe.

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/gofpm/gofpm/fpm/internal/sockets"
	"golang.org/x/sys/unix"
)

// sock_diag constants for the lookups below (linux/unix_diag.h).
const (
	kdUDIAG_SHOW_VFS = 0x02
	kdUNIX_DIAG_VFS  = 1
)

// unixListenerAt returns the socket inode of the listening Unix socket
// whose file is path (same device and inode: the name the kernel recorded
// at bind time may be another, as the socket set binds under a temporary name).
// found is false when no listener in this network namespace has it.
func unixListenerAt(path string) (ino uint64, found bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, false, err
	}
	k := &kernelProbe{nl: -1, rbuf: make([]byte, kdRecvBuf)}
	defer k.nlReset()
	req := kdUnixReq(1<<kdTCP_LISTEN, 0, kdUDIAG_SHOW_VFS)
	err = k.nlRequest(req, true, func(b []byte) error {
		m, ok := kdParseUnix(b, false)
		if !ok || found {
			return nil
		}
		kdAttrs(b[kdUnixMsgLen:], func(t uint16, v []byte) {
			if t != kdUNIX_DIAG_VFS || len(v) < 8 {
				return
			}
			vino := uint64(nativeU32(v[0:4]))
			kdev := nativeU32(v[4:8]) // the kernel's dev_t: major<<20 | minor
			dev := unix.Mkdev(kdev>>20, kdev&0xfffff)
			if vino == st.Ino && dev == st.Dev {
				ino, found = uint64(m.ino), true
			}
		})
		return nil
	})
	return ino, found, err
}

func nativeU32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }

// tcpListenersOn returns the socket inodes of the TCP listeners that a
// bind to ap conflicts with: same port, and same address or a wildcard on
// either side.
func tcpListenersOn(ap netip.AddrPort) ([]uint64, error) {
	var out []uint64
	want := ap.Addr().Unmap()
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		k := &kernelProbe{nl: -1, rbuf: make([]byte, kdRecvBuf), family: fam, port: ap.Port()}
		err := k.inetDump(1<<kdTCP_LISTEN, func(m kdInetMsg) {
			var a netip.Addr
			if fam == unix.AF_INET {
				a = netip.AddrFrom4([4]byte(m.src[:4]))
			} else {
				a = netip.AddrFrom16(m.src).Unmap()
			}
			if a.IsUnspecified() || !want.IsValid() || want.IsUnspecified() || a == want {
				out = append(out, uint64(m.inode))
			}
		})
		k.nlReset()
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// socketHolders lists the processes with an fd on socket inode ino.
func socketHolders(ino uint64) []int {
	want := []byte("socket:[" + strconv.FormatUint(ino, 10) + "]")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	buf := make([]byte, 64)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			n, err := unix.Readlink(dir+fd.Name(), buf)
			if err == nil && bytes.Equal(buf[:n], want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func procComm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func procPPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// sockProbe is how the socket set names the holder of an address.
func sockProbe() sockets.Probe {
	return sockets.Probe{
		UnixListener: unixListenerAt,
		TCPListeners: tcpListenersOn,
		Holders:      socketHolders,
		Comm:         procComm,
		PPID:         procPPID,
	}
}
