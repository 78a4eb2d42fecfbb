package worker

// This file fixes up the requests net/http/fcgi would refuse. It answers
// 500 to a request without SERVER_PROTOCOL, which php-fpm and php-cgi do
// not need and which minimal clients, such as a container health check
// with cgi-fcgi, do not send. The connection wrapper therefore follows the
// record boundaries of what the web server sends and, after each
// FCGI_BEGIN_REQUEST, inserts a PARAMS record with SERVER_PROTOCOL=HTTP/1.0.
// Params are read in order and later values win, so a SERVER_PROTOCOL the
// client sends itself replaces the inserted one.

// protoParams is the inserted PARAMS record's content: the pair
// SERVER_PROTOCOL=HTTP/1.0 with 1-byte lengths.
var protoParams = append([]byte{15, 8}, "SERVER_PROTOCOLHTTP/1.0"...)

const (
	fcgiHeaderLen    = 8
	fcgiBeginRequest = 1
	fcgiAbortRequest = 2
	fcgiParams       = 4
)

// recordTracker follows record boundaries in a FastCGI byte stream.
type recordTracker struct {
	hdr    [fcgiHeaderLen]byte
	nhdr   int // header bytes seen of the current record
	left   int // content and padding bytes left in the current record
	typ    byte
	id     [2]byte
	inject []byte // bytes to hand out before reading more
	hook   *conn  // sees each header and adds to the inserted params (badinput.go); nil in tests
}

// feed looks at bytes read from the web server and, at the end of each
// BEGIN_REQUEST record, prepares the inserted record. It returns how many
// bytes of p belong to the stream before the insertion point (the caller
// must hold the rest back until the inserted bytes are out).
func (t *recordTracker) feed(p []byte) int {
	for i := 0; i < len(p); {
		if t.nhdr < fcgiHeaderLen {
			n := copy(t.hdr[t.nhdr:], p[i:])
			t.nhdr += n
			i += n
			if t.nhdr < fcgiHeaderLen {
				return len(p)
			}
			t.typ = t.hdr[1]
			t.id = [2]byte{t.hdr[2], t.hdr[3]}
			t.left = int(t.hdr[4])<<8 | int(t.hdr[5]) + int(t.hdr[6])
			if t.hook != nil && t.hdr[0] == fcgiVersion1 {
				t.hook.onHeader(t.typ, uint16(t.id[0])<<8|uint16(t.id[1]), int(t.hdr[4])<<8|int(t.hdr[5]))
			}
		}
		n := min(t.left, len(p)-i)
		t.left -= n
		i += n
		if t.left == 0 {
			t.nhdr = 0
			if t.typ == fcgiBeginRequest && t.hdr[0] == fcgiVersion1 {
				rec := []byte{fcgiVersion1, fcgiParams, t.id[0], t.id[1], 0, 0, 0, 0}
				rec = append(rec, protoParams...)
				if t.hook != nil {
					rec = append(rec, t.hook.onBegin(uint16(t.id[0])<<8|uint16(t.id[1]))...)
				}
				rec[4], rec[5] = byte((len(rec)-fcgiHeaderLen)>>8), byte(len(rec)-fcgiHeaderLen)
				if pad := -len(rec) & 7; pad > 0 {
					rec[6] = byte(pad)
					rec = append(rec, make([]byte, pad)...)
				}
				t.inject = rec
				return i
			}
		}
	}
	return len(p)
}
