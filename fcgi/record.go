package fcgi

// This file encodes and decodes single records: the 8-byte header, the
// content, the padding, and the fixed bodies of BEGIN_REQUEST, END_REQUEST and
// UNKNOWN_TYPE.

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Header is a decoded record header.
type Header struct {
	Type          RecordType
	RequestID     uint16
	ContentLength int
	PaddingLength int
}

// ParseHeader decodes the record header at the start of b, checking the
// version byte. The reserved byte is ignored: php-fpm leaves stale bytes in
// reserved fields. A b shorter than HeaderSize is an error wrapping
// ErrProtocol.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: record header of %d bytes, want %d", ErrProtocol, len(b), HeaderSize)
	}
	if b[0] != version1 {
		return Header{}, fmt.Errorf("%w: unsupported version %d", ErrProtocol, b[0])
	}
	return Header{
		Type:          RecordType(b[1]),
		RequestID:     binary.BigEndian.Uint16(b[2:4]),
		ContentLength: int(binary.BigEndian.Uint16(b[4:6])),
		PaddingLength: int(b[6]),
	}, nil
}

// padding returns the padding that aligns n content bytes to 8 bytes, as the
// specification recommends.
func padding(n int) int { return -n & 7 }

// zeros is the source of padding bytes.
var zeros [MaxPaddingSize]byte

// appendHeader appends the header of a record with n content bytes and pad
// padding bytes. The caller guarantees n <= MaxContentSize.
func appendHeader(dst []byte, typ RecordType, id uint16, n, pad int) []byte {
	return append(dst, version1, byte(typ), byte(id>>8), byte(id),
		byte(n>>8), byte(n), byte(pad), 0)
}

// putHeader writes the header of a record with n content bytes into b[:8].
func putHeader(b []byte, typ RecordType, id uint16, n, pad int) {
	_ = b[HeaderSize-1]
	b[0], b[1] = version1, byte(typ)
	binary.BigEndian.PutUint16(b[2:4], id)
	binary.BigEndian.PutUint16(b[4:6], uint16(n))
	b[6], b[7] = byte(pad), 0
}

// AppendRecords appends content to dst framed as records of type typ for
// request id: split into records of at most MaxContentSize bytes, each padded
// to a multiple of 8. Empty content appends one empty record, which is how a
// stream (PARAMS, STDIN, STDOUT, STDERR, DATA) is ended; a complete stream is
// therefore AppendRecords(AppendRecords(dst, t, id, data), t, id, nil).
func AppendRecords(dst []byte, typ RecordType, id uint16, content []byte) []byte {
	for {
		n := min(len(content), MaxContentSize)
		pad := padding(n)
		dst = appendHeader(dst, typ, id, n, pad)
		dst = append(dst, content[:n]...)
		dst = append(dst, zeros[:pad]...)
		content = content[n:]
		if len(content) == 0 {
			return dst
		}
	}
}

// Record is one decoded record. For management records (GET_VALUES,
// GET_VALUES_RESULT, UNKNOWN_TYPE) RequestID is 0.
type Record struct {
	Type      RecordType
	RequestID uint16
	Content   []byte // padding removed
}

// ReadRecord reads one record from r, checking the version byte. The header,
// content and padding are read into buf when it is large enough (a buffer of
// MaxRecordSize bytes always is), so the returned Content aliases buf and is
// only valid until buf is reused; with a smaller buf, ReadRecord allocates
// what it needs, at most MaxRecordSize bytes, whatever the input.
//
// ReadRecord returns io.EOF when r ends before the first byte of a record and
// io.ErrUnexpectedEOF when it ends inside one. Record types the specification
// does not define are returned as they are, so that the caller can answer
// UNKNOWN_TYPE.
func ReadRecord(r io.Reader, buf []byte) (Record, error) {
	rec, _, err := readRecord(r, buf)
	return rec, err
}

// ReadRecordWire is ReadRecord for a filter that passes records on: it also
// returns the record as it came on the wire (header, content and padding),
// so that it can be forwarded unchanged. With a buf of at least
// MaxRecordSize bytes, wire and the record's Content alias buf.
func ReadRecordWire(r io.Reader, buf []byte) (rec Record, wire []byte, err error) {
	return readRecord(r, buf)
}

func readRecord(r io.Reader, buf []byte) (Record, []byte, error) {
	var hb []byte
	if len(buf) >= HeaderSize {
		hb = buf[:HeaderSize]
	} else {
		hb = make([]byte, HeaderSize)
	}
	if _, err := io.ReadFull(r, hb); err != nil {
		return Record{}, nil, err
	}
	h, err := ParseHeader(hb)
	if err != nil {
		return Record{}, nil, err
	}
	need := h.ContentLength + h.PaddingLength
	var wire []byte
	if len(buf) >= HeaderSize+need {
		wire = buf[:HeaderSize+need]
	} else {
		wire = make([]byte, HeaderSize+need)
		copy(wire, hb)
	}
	if _, err := io.ReadFull(r, wire[HeaderSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Record{}, nil, err
	}
	end := HeaderSize + h.ContentLength
	return Record{Type: h.Type, RequestID: h.RequestID, Content: wire[HeaderSize:end:end]}, wire, nil
}

// WriteRecord writes one record, padded to a multiple of 8 bytes, with a
// single call to w.Write. Content longer than MaxContentSize is an error; use
// AppendRecords or a StreamWriter to split it.
func WriteRecord(w io.Writer, typ RecordType, id uint16, content []byte) error {
	if len(content) > MaxContentSize {
		return fmt.Errorf("fcgi: record content of %d bytes exceeds %d", len(content), MaxContentSize)
	}
	bp := getBuf()
	b := AppendRecords((*bp)[:0], typ, id, content)
	_, err := w.Write(b)
	*bp = b
	putBuf(bp)
	return err
}

// AppendBeginRequest appends a BEGIN_REQUEST record. keepConn sets
// FCGI_KEEP_CONN: the application keeps the connection open after END_REQUEST.
func AppendBeginRequest(dst []byte, id uint16, role Role, keepConn bool) []byte {
	var flags byte
	if keepConn {
		flags = flagKeepConn
	}
	dst = appendHeader(dst, TypeBeginRequest, id, 8, 0)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// ParseBeginRequest decodes the content of a BEGIN_REQUEST record.
func ParseBeginRequest(content []byte) (role Role, keepConn bool, err error) {
	if len(content) < 8 {
		return 0, false, fmt.Errorf("%w: BEGIN_REQUEST content of %d bytes, want 8", ErrProtocol, len(content))
	}
	return Role(binary.BigEndian.Uint16(content)), content[2]&flagKeepConn != 0, nil
}

// AppendEndRequest appends an END_REQUEST record.
func AppendEndRequest(dst []byte, id uint16, appStatus uint32, status ProtocolStatus) []byte {
	dst = appendHeader(dst, TypeEndRequest, id, 8, 0)
	dst = binary.BigEndian.AppendUint32(dst, appStatus)
	return append(dst, byte(status), 0, 0, 0)
}

// ParseEndRequest decodes the content of an END_REQUEST record. The reserved
// bytes are ignored (php-fpm does not zero them).
func ParseEndRequest(content []byte) (appStatus uint32, status ProtocolStatus, err error) {
	if len(content) < 8 {
		return 0, 0, fmt.Errorf("%w: END_REQUEST content of %d bytes, want 8", ErrProtocol, len(content))
	}
	return binary.BigEndian.Uint32(content), ProtocolStatus(content[4]), nil
}

// AppendUnknownType appends the UNKNOWN_TYPE record that answers a management
// record of type t the application does not understand.
func AppendUnknownType(dst []byte, t RecordType) []byte {
	dst = appendHeader(dst, TypeUnknownType, 0, 8, 0)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// bufPool holds write buffers, to avoid an allocation per request. Their
// contents do not matter: every user truncates to zero length first.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// maxPooledBuf keeps buffers grown by an unusual request out of the pool.
const maxPooledBuf = 256 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) > maxPooledBuf {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}
