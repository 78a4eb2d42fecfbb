package fcgi

// This file is a minimal server for the responder role, for answers that a
// program computes in process from the params alone (gofpm's status and
// ping pages, tests): one request at a time on each connection.

import (
	"bufio"
	"fmt"
	"net"
	"time"
)

// Responder answers FastCGI requests from their params. It serves one
// request at a time per connection (a BEGIN_REQUEST while one is in flight
// is refused with FCGI_CANT_MPX_CONN), honours FCGI_KEEP_CONN, refuses
// roles other than the responder with FCGI_UNKNOWN_ROLE, answers
// FCGI_GET_VALUES with Values, and answers management records of unknown
// types with FCGI_UNKNOWN_TYPE. The request body is read and discarded.
type Responder struct {
	// MaxParams bounds a request's PARAMS content; beyond it the request is
	// ended with a STDERR record and application status 1, and ServeConn
	// returns an error.
	MaxParams int
	// MaxStdin bounds a request's body; beyond it ServeConn returns an
	// error.
	MaxStdin int
	// Timeout, when set, is the deadline for each record to arrive.
	Timeout time.Duration
	// Values are the FCGI_GET_VALUES_RESULT pairs.
	Values map[string]string
	// Answer returns the STDOUT of a request: a CGI response, header block
	// and body.
	Answer func(params map[string]string) []byte
}

// ServeConn answers the requests of c in turn. It returns nil after a
// request without FCGI_KEEP_CONN, or the error that ended the connection:
// io.EOF when the client closed it between records, a read or deadline
// error, or the rule a record broke. It does not close c.
func (s *Responder) ServeConn(c net.Conn) error {
	br := bufio.NewReaderSize(c, 8192)
	buf := make([]byte, MaxRecordSize)
	var (
		id       uint16
		keepConn bool
		params   []byte
		gotPar   bool
		stdin    int
	)
	for {
		if s.Timeout > 0 {
			c.SetDeadline(time.Now().Add(s.Timeout))
		}
		rec, err := ReadRecord(br, buf)
		if err != nil {
			return err
		}
		switch rec.Type {
		case TypeGetValues:
			if err := WriteRecord(c, TypeGetValuesResult, 0, AppendPairs(nil, s.Values)); err != nil {
				return err
			}
			continue
		case TypeBeginRequest:
			role, kc, err := ParseBeginRequest(rec.Content)
			if err != nil {
				return err
			}
			if id != 0 { // one request at a time
				c.Write(AppendEndRequest(nil, rec.RequestID, 0, StatusCantMultiplex))
				continue
			}
			if role != RoleResponder {
				if _, err := c.Write(AppendEndRequest(nil, rec.RequestID, 0, StatusUnknownRole)); err != nil {
					return err
				}
				continue
			}
			id, keepConn, params, gotPar, stdin = rec.RequestID, kc, params[:0], false, 0
			continue
		}
		if rec.RequestID != id || id == 0 {
			if rec.Type > TypeUnknownType {
				c.Write(AppendUnknownType(nil, rec.Type))
				continue
			}
			return fmt.Errorf("%v record for request %d, want %d", rec.Type, rec.RequestID, id)
		}
		switch rec.Type {
		case TypeAbortRequest:
			if _, err := c.Write(AppendEndRequest(nil, id, 0, StatusRequestComplete)); err != nil {
				return err
			}
			id = 0
			if !keepConn {
				return nil
			}
			continue
		case TypeParams:
			if len(rec.Content) == 0 {
				gotPar = true
				continue
			}
			if len(params)+len(rec.Content) > s.MaxParams {
				c.Write(AppendRecords(nil, TypeStderr, id, []byte("params too large")))
				c.Write(AppendEndRequest(nil, id, 1, StatusRequestComplete))
				return fmt.Errorf("params larger than %d bytes", s.MaxParams)
			}
			params = append(params, rec.Content...)
			continue
		case TypeStdin:
			stdin += len(rec.Content)
			if stdin > s.MaxStdin {
				return fmt.Errorf("request body larger than %d bytes", s.MaxStdin)
			}
			if len(rec.Content) > 0 || !gotPar {
				continue
			}
		default:
			continue // FCGI_DATA and the like: ignored
		}
		// Empty STDIN after the params: the request is complete.
		m, err := ReadPairs(params, s.MaxParams)
		if err != nil {
			return err
		}
		msg := AppendRecords(nil, TypeStdout, id, s.Answer(m))
		msg = AppendRecords(msg, TypeStdout, id, nil)
		msg = AppendEndRequest(msg, id, 0, StatusRequestComplete)
		if _, err := c.Write(msg); err != nil {
			return err
		}
		id = 0
		if !keepConn {
			return nil
		}
	}
}
