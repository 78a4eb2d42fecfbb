package sockdiag

// The sock_diag wire format: requests and replies of UNIX_DIAG and
// INET_DIAG (linux/unix_diag.h, linux/inet_diag.h, linux/sock_diag.h).

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Wire constants that x/sys does not define.
const (
	udiagShowName  = 0x01
	udiagShowVFS   = 0x02
	udiagShowPeer  = 0x04
	udiagShowIcons = 0x08
	udiagShowRQLen = 0x10

	unixDiagName  = 0
	unixDiagVFS   = 1
	unixDiagPeer  = 2
	unixDiagIcons = 3
	unixDiagRQLen = 4

	inetDiagReqBytecode = 1
	inetDiagBCSGE       = 2
	inetDiagBCSLE       = 3
	inetDiagNoCookie    = ^uint32(0)

	tcpEstablished = 1
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpListen      = 10
	tcpClosing     = 11

	unixReqLen  = 24 // struct unix_diag_req
	unixMsgLen  = 16 // struct unix_diag_msg
	inetReqLen  = 56 // struct inet_diag_req_v2
	inetMsgLen  = 72 // struct inet_diag_msg
	nlaTypeMask = 0x3fff
)

// tcpConnStates are the TCP states in which a process can hold an accepted socket.
const tcpConnStates = 1<<tcpEstablished | 1<<tcpFinWait1 | 1<<tcpFinWait2 |
	1<<tcpCloseWait | 1<<tcpLastAck | 1<<tcpClosing

// unixMsg is a parsed unix_diag_msg with its attributes.
type unixMsg struct {
	typ, state     uint8
	ino            uint32
	name           []byte // UNIX_DIAG_NAME, aliasing the receive buffer
	peer           uint32 // UNIX_DIAG_PEER
	hasRQ          bool
	rqueue, wqueue uint32   // UNIX_DIAG_RQLEN
	icons          []uint32 // UNIX_DIAG_ICONS (copied)
	hasVFS         bool
	vfsIno, vfsDev uint32 // UNIX_DIAG_VFS; the dev_t is the kernel's, major<<20 | minor
}

// inetMsg is the part of inet_diag_msg used here.
type inetMsg struct {
	family, state  uint8
	sport          uint16
	src            [16]byte
	rqueue, wqueue uint32
	inode          uint32
}

func align(n int) int { return (n + 3) &^ 3 }

func parseUnix(b []byte) (unixMsg, bool) {
	if len(b) < unixMsgLen {
		return unixMsg{}, false
	}
	ne := binary.NativeEndian
	m := unixMsg{typ: b[1], state: b[2], ino: ne.Uint32(b[4:8])}
	attrs(b[unixMsgLen:], func(t uint16, v []byte) {
		switch t {
		case unixDiagName:
			m.name = v
		case unixDiagVFS:
			if len(v) >= 8 {
				m.hasVFS, m.vfsIno, m.vfsDev = true, ne.Uint32(v[0:4]), ne.Uint32(v[4:8])
			}
		case unixDiagPeer:
			if len(v) >= 4 {
				m.peer = ne.Uint32(v)
			}
		case unixDiagRQLen:
			if len(v) >= 8 {
				m.hasRQ, m.rqueue, m.wqueue = true, ne.Uint32(v[0:4]), ne.Uint32(v[4:8])
			}
		case unixDiagIcons:
			m.icons = make([]uint32, len(v)/4)
			for i := range m.icons {
				m.icons[i] = ne.Uint32(v[4*i:])
			}
		}
	})
	return m, true
}

func parseInet(b []byte) (inetMsg, bool) {
	if len(b) < inetMsgLen {
		return inetMsg{}, false
	}
	ne := binary.NativeEndian
	m := inetMsg{family: b[0], state: b[1], sport: binary.BigEndian.Uint16(b[4:6])}
	copy(m.src[:], b[8:24])
	m.rqueue = ne.Uint32(b[56:60])
	m.wqueue = ne.Uint32(b[60:64])
	m.inode = ne.Uint32(b[68:72])
	return m, true
}

// attrs walks netlink attributes.
func attrs(b []byte, fn func(t uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return
		}
		fn(t, b[4:l])
		if a := align(l); a < len(b) {
			b = b[a:]
		} else {
			return
		}
	}
}

// unixReq builds a unix_diag_req. ino != 0 asks for that socket only.
func unixReq(states, ino, show uint32) []byte {
	b := make([]byte, unixReqLen)
	ne := binary.NativeEndian
	b[0] = unix.AF_UNIX
	ne.PutUint32(b[4:], states)
	ne.PutUint32(b[8:], ino)
	ne.PutUint32(b[12:], show)
	ne.PutUint32(b[16:], inetDiagNoCookie)
	ne.PutUint32(b[20:], inetDiagNoCookie)
	return b
}

// inetReq builds an inet_diag_req_v2 for the TCP sockets of family in
// states whose local port is port: a bytecode filter sport >= port &&
// sport <= port, which kernels since 2.6 understand.
func inetReq(family int, port uint16, states uint32) []byte {
	ne := binary.NativeEndian
	const bcLen = 16
	b := make([]byte, inetReqLen+4+bcLen)
	b[0] = byte(family)
	b[1] = unix.IPPROTO_TCP
	ne.PutUint32(b[4:], states)
	ne.PutUint32(b[48:], inetDiagNoCookie)
	ne.PutUint32(b[52:], inetDiagNoCookie)
	a := b[inetReqLen:]
	ne.PutUint16(a[0:], 4+bcLen)
	ne.PutUint16(a[2:], inetDiagReqBytecode)
	bc := a[4:]
	// op {code, yes, no}; a port op is followed by {0, 0, port}. Jumping to
	// exactly the end accepts; to the end + 4 rejects.
	bc[0], bc[1] = inetDiagBCSGE, 8
	ne.PutUint16(bc[2:], bcLen+4)
	ne.PutUint16(bc[6:], port)
	bc[8], bc[9] = inetDiagBCSLE, 8
	ne.PutUint16(bc[10:], bcLen-8+4)
	ne.PutUint16(bc[14:], port)
	return b
}
