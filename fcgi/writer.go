package fcgi

// This file is the stream writer: a byte stream (STDOUT, STDERR, STDIN, ...)
// cut into records.

import (
	"errors"
	"io"
)

// StreamWriter writes a FastCGI stream of one type for one request. Each
// Write becomes one or more records of at most MaxContentSize bytes, sent
// with one w.Write per record; Close ends the stream with an empty record.
// A StreamWriter does not buffer across calls, so every Write reaches the
// peer at once (wrap it in a bufio.Writer to coalesce small writes). It is
// not safe for concurrent use.
type StreamWriter struct {
	w      io.Writer
	typ    RecordType
	id     uint16
	buf    []byte
	closed bool
}

var _ io.WriteCloser = (*StreamWriter)(nil)

var errStreamClosed = errors.New("fcgi: write to a closed stream")

// NewStreamWriter returns a StreamWriter for records of type typ and request
// id on w.
func NewStreamWriter(w io.Writer, typ RecordType, id uint16) *StreamWriter {
	return &StreamWriter{w: w, typ: typ, id: id}
}

// Write sends p as records. An empty p sends nothing: an empty record would
// end the stream.
func (s *StreamWriter) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errStreamClosed
	}
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxContentSize)]
		s.buf = AppendRecords(s.buf[:0], s.typ, s.id, chunk)
		if _, err := s.w.Write(s.buf); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// Close ends the stream with an empty record. Further calls do nothing and
// return nil; Close does not close the underlying writer.
func (s *StreamWriter) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.buf = appendHeader(s.buf[:0], s.typ, s.id, 0, 0)
	_, err := s.w.Write(s.buf)
	return err
}
