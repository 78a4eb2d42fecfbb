package sockdiag

// Tests against the kernel's tables, with real listeners and connections.

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fpm/internal/socktest"
	"golang.org/x/sys/unix"
)

// identify identifies f with a Conn closed in t.Cleanup.
func identify(t testing.TB, f *os.File) (*Conn, *Listener) {
	t.Helper()
	c := new(Conn)
	t.Cleanup(func() { c.Close() })
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Identify(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c, &l
}

func TestListenQueue(t *testing.T) {
	for _, l := range socktest.AllListeners {
		t.Run(l.Network, func(t *testing.T) {
			const backlog = 7
			f, addr := l.Listen(t, backlog)
			c, ln := identify(t, f)
			if q, b, err := c.Queue(ln); err != nil || q != 0 || b != backlog {
				t.Fatalf("empty queue: Queue = %d, %d, %v; want 0, %d", q, b, err, backlog)
			}
			var clients []uint64
			for range 3 {
				clients = append(clients, socktest.Inode(t, socktest.Dial(t, l.Net(), addr)))
			}
			// TCP: the handshake's last ACK may still be on its way.
			socktest.Eventually(t, 5*time.Second, "listen queue 3", func() (bool, string) {
				q, b, err := c.Queue(ln)
				return err == nil && q == 3 && b == backlog, fmt.Sprint(q, b, err)
			})
			if l.Network == "unix" {
				icons, err := c.Pending(ln)
				if err != nil {
					t.Fatal(err)
				}
				if len(icons) != 3 {
					t.Fatalf("UNIX_DIAG_ICONS = %v; want the 3 clients %v", icons, clients)
				}
				for _, cl := range clients {
					if !slices.Contains(icons, uint32(cl)) {
						t.Fatalf("client %d not among the pending %v", cl, icons)
					}
				}
			} else if _, err := c.Pending(ln); err == nil {
				t.Fatal("Pending of a TCP listener: no error")
			}
			socktest.Blocking(t, f)
		})
	}
}

func TestIdentify(t *testing.T) {
	for _, l := range socktest.AllListeners {
		t.Run(l.Network, func(t *testing.T) {
			f, addr := l.Listen(t, 8)
			_, ln := identify(t, f)
			if ln.Ino != socktest.FileInode(t, f) || ln.Type != unix.SOCK_STREAM {
				t.Fatalf("Identify = %+v; want inode %d, SOCK_STREAM", ln, socktest.FileInode(t, f))
			}
			if l.Network == "unix" {
				// The name at bind time, not the file's.
				want := filepath.Join(filepath.Dir(addr), ".pool.sock."+strconv.Itoa(os.Getpid())+".tmp")
				if ln.Family != unix.AF_UNIX || strings.TrimSuffix(string(ln.Name), "\x00") != want {
					t.Fatalf("Identify = %+v (name %q); want AF_UNIX named %q", ln, ln.Name, want)
				}
				return
			}
			host, port, _ := net.SplitHostPort(addr)
			wantWild := l.Network == "tcp-any" || l.Network == "tcp6-any"
			if strconv.Itoa(int(ln.Port)) != port || ln.Wildcard != wantWild || ln.Name != nil {
				t.Fatalf("Identify = %+v; want port %s, wildcard %v", ln, port, wantWild)
			}
			if !wantWild {
				a := netip.MustParseAddr(host)
				if got := netip.AddrFrom16(ln.Addr); ln.Family == unix.AF_INET {
					got = netip.AddrFrom4([4]byte(ln.Addr[:4]))
					if got != a {
						t.Fatalf("Identify address %v; want %v", got, a)
					}
				} else if got != a {
					t.Fatalf("Identify address %v; want %v", got, a)
				}
			}
		})
	}
}

func TestIdentifyRejects(t *testing.T) {
	var c Conn
	defer c.Close()
	a, _ := socktest.SocketPair(t)
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for name, s := range map[string]syscall.Conn{"connected socket": a, "/dev/null": null, "udp": udp.(*net.UDPConn)} {
		rc, err := s.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		if l, err := c.Identify(rc); err == nil {
			t.Errorf("Identify accepted a %s: %+v", name, l)
		}
	}
}

// TestAccepted: the dump finds the accepted ends of this listener's
// connections, not their clients' ends, not another listener's.
func TestAccepted(t *testing.T) {
	for _, l := range socktest.AllListeners {
		t.Run(l.Network, func(t *testing.T) {
			f, addr := l.Listen(t, 8)
			other, otherAddr := l.Listen(t, 8)
			c, ln := identify(t, f)
			var want []uint64
			for range 2 {
				socktest.Dial(t, l.Net(), addr)
				want = append(want, socktest.FileInode(t, socktest.Accept(t, f)))
			}
			queued := socktest.Inode(t, socktest.Dial(t, l.Net(), addr))
			socktest.Dial(t, l.Net(), otherAddr)
			socktest.Accept(t, other)
			conns := map[uint64]bool{}
			if err := c.Accepted(ln, conns); err != nil {
				t.Fatal(err)
			}
			if len(conns) != len(want) || !has(conns, want...) || has(conns, queued) {
				t.Fatalf("Accepted = %v; want %v", conns, want)
			}
		})
	}
}

func has(m map[uint64]bool, inos ...uint64) bool {
	for _, i := range inos {
		if _, ok := m[i]; !ok {
			return false
		}
	}
	return true
}

func TestUnixListenerAt(t *testing.T) {
	f, path := socktest.ListenUnix(t, 8)
	ino, found, err := UnixListenerAt(path)
	if err != nil || !found || ino != socktest.FileInode(t, f) {
		t.Fatalf("UnixListenerAt(%s) = %d, %v, %v; want %d", path, ino, found, err, socktest.FileInode(t, f))
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if ino, found, err := UnixListenerAt(plain); err != nil || found {
		t.Fatalf("UnixListenerAt(a plain file) = %d, %v, %v; want not found", ino, found, err)
	}
	if _, _, err := UnixListenerAt(plain + ".missing"); err == nil {
		t.Fatal("UnixListenerAt(a missing file): no error")
	}
}

func TestTCPListenersOn(t *testing.T) {
	f, addr := socktest.ListenTCP(t, 8)
	ino := socktest.FileInode(t, f)
	ap := netip.MustParseAddrPort(addr)
	for _, tc := range []struct {
		ap   netip.AddrPort
		want bool
	}{
		{ap, true},
		{netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()), true},
		{netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port()), true},
		{netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), ap.Port()), true},
		{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), ap.Port()), false},
	} {
		inos, err := TCPListenersOn(tc.ap)
		if err != nil || slices.Contains(inos, ino) != tc.want {
			t.Errorf("TCPListenersOn(%v) = %v, %v; want %d listed: %v", tc.ap, inos, err, ino, tc.want)
		}
	}
	fa, addrAny := socktest.ListenTCPAny(t, 8)
	other := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), netip.MustParseAddrPort(addrAny).Port())
	if inos, err := TCPListenersOn(other); err != nil || !slices.Contains(inos, socktest.FileInode(t, fa)) {
		t.Errorf("TCPListenersOn(%v) = %v, %v; want the wildcard listener %d", other, inos, err, socktest.FileInode(t, fa))
	}
}

func TestParseUnix(t *testing.T) {
	ne := binary.NativeEndian
	attr := func(typ uint16, v []byte) []byte {
		b := make([]byte, 4, align(4+len(v)))
		ne.PutUint16(b[0:], uint16(4+len(v)))
		ne.PutUint16(b[2:], typ)
		b = append(b, v...)
		return b[:cap(b)][:align(4+len(v))]
	}
	msg := make([]byte, unixMsgLen)
	msg[0], msg[1], msg[2] = unix.AF_UNIX, unix.SOCK_STREAM, tcpListen
	ne.PutUint32(msg[4:], 4242)
	msg = append(msg, attr(unixDiagName, []byte("/run/x.sock"))...)
	rq := make([]byte, 8)
	ne.PutUint32(rq[0:], 3)
	ne.PutUint32(rq[4:], 128)
	msg = append(msg, attr(unixDiagRQLen, rq)...)
	ic := make([]byte, 8)
	ne.PutUint32(ic[0:], 7)
	ne.PutUint32(ic[4:], 9)
	msg = append(msg, attr(unixDiagIcons, ic)...)
	msg = append(msg, 0xff, 0xff) // a truncated attribute is ignored
	m, ok := parseUnix(msg)
	if !ok || m.ino != 4242 || m.typ != unix.SOCK_STREAM || m.state != tcpListen || string(m.name) != "/run/x.sock" ||
		!m.hasRQ || m.rqueue != 3 || m.wqueue != 128 || !slices.Equal(m.icons, []uint32{7, 9}) {
		t.Fatalf("parseUnix = %+v, %v", m, ok)
	}
	if _, ok := parseUnix(msg[:unixMsgLen-1]); ok {
		t.Fatal("parseUnix accepted a short message")
	}
}
