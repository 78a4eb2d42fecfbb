package fcgi

// This file holds the numbers of the FastCGI 1.0 specification and the
// package's sentinel errors.

import (
	"errors"
	"strconv"
)

// Sizes of the record framing.
const (
	// HeaderSize is the size of a record header.
	HeaderSize = 8
	// MaxContentSize is the largest content a single record can carry; longer
	// streams are split into several records.
	MaxContentSize = 65535
	// MaxPaddingSize is the largest padding a record can carry.
	MaxPaddingSize = 255
	// MaxRecordSize is the largest record on the wire. A buffer of this size
	// lets ReadRecord read any record without allocating.
	MaxRecordSize = HeaderSize + MaxContentSize + MaxPaddingSize
)

// version1 is FCGI_VERSION_1, the only version there is.
const version1 = 1

// RecordType is the type byte of a record header.
type RecordType uint8

// The record types of FastCGI 1.0.
const (
	TypeBeginRequest    RecordType = 1  // FCGI_BEGIN_REQUEST, web server to application
	TypeAbortRequest    RecordType = 2  // FCGI_ABORT_REQUEST, web server to application
	TypeEndRequest      RecordType = 3  // FCGI_END_REQUEST, application to web server
	TypeParams          RecordType = 4  // FCGI_PARAMS stream, name-value pairs
	TypeStdin           RecordType = 5  // FCGI_STDIN stream, the request body
	TypeStdout          RecordType = 6  // FCGI_STDOUT stream, the CGI response
	TypeStderr          RecordType = 7  // FCGI_STDERR stream, diagnostics
	TypeData            RecordType = 8  // FCGI_DATA stream, the filter role's file
	TypeGetValues       RecordType = 9  // FCGI_GET_VALUES management record
	TypeGetValuesResult RecordType = 10 // FCGI_GET_VALUES_RESULT management record
	TypeUnknownType     RecordType = 11 // FCGI_UNKNOWN_TYPE management record
)

var recordTypeNames = [...]string{
	TypeBeginRequest:    "BEGIN_REQUEST",
	TypeAbortRequest:    "ABORT_REQUEST",
	TypeEndRequest:      "END_REQUEST",
	TypeParams:          "PARAMS",
	TypeStdin:           "STDIN",
	TypeStdout:          "STDOUT",
	TypeStderr:          "STDERR",
	TypeData:            "DATA",
	TypeGetValues:       "GET_VALUES",
	TypeGetValuesResult: "GET_VALUES_RESULT",
	TypeUnknownType:     "UNKNOWN_TYPE",
}

// String returns the specification's name without the FCGI_ prefix, for
// example "STDOUT", or "type(N)" for a type the specification does not define.
func (t RecordType) String() string {
	if int(t) < len(recordTypeNames) && recordTypeNames[t] != "" {
		return recordTypeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Role is the role field of a BEGIN_REQUEST record. The Client only uses
// RoleResponder; the other roles are listed so that a server can refuse them.
type Role uint16

// The roles of FastCGI 1.0.
const (
	RoleResponder  Role = 1 // FCGI_RESPONDER
	RoleAuthorizer Role = 2 // FCGI_AUTHORIZER
	RoleFilter     Role = 3 // FCGI_FILTER
)

// ProtocolStatus is the protocolStatus field of an END_REQUEST record.
type ProtocolStatus uint8

// The protocol status values of FastCGI 1.0.
const (
	StatusRequestComplete ProtocolStatus = 0 // FCGI_REQUEST_COMPLETE
	StatusCantMultiplex   ProtocolStatus = 1 // FCGI_CANT_MPX_CONN
	StatusOverloaded      ProtocolStatus = 2 // FCGI_OVERLOADED
	StatusUnknownRole     ProtocolStatus = 3 // FCGI_UNKNOWN_ROLE
)

// flagKeepConn is FCGI_KEEP_CONN, bit 0 of the BEGIN_REQUEST flags: the
// application must not close the connection after the request.
const flagKeepConn = 1

// reqID is the request id the Client uses. It never multiplexes, so one id
// per connection is enough; 0 is reserved for management records.
const reqID uint16 = 1

// Names for FCGI_GET_VALUES.
const (
	// MaxConns is FCGI_MAX_CONNS: how many concurrent transport connections
	// the application accepts.
	MaxConns = "FCGI_MAX_CONNS"
	// MaxReqs is FCGI_MAX_REQS: how many concurrent requests the application
	// accepts.
	MaxReqs = "FCGI_MAX_REQS"
	// MpxsConns is FCGI_MPXS_CONNS: "1" when the application multiplexes
	// requests over one connection, else "0".
	MpxsConns = "FCGI_MPXS_CONNS"
)

var (
	// ErrProtocol is wrapped by every error about bytes that do not follow
	// FastCGI 1.0: a bad version, a truncated END_REQUEST, a record for
	// another request, a malformed CGI header block.
	ErrProtocol = errors.New("fcgi: protocol error")

	// ErrCantMultiplex is returned by Do (or by Body.Read) when the
	// application ended the request with FCGI_CANT_MPX_CONN.
	ErrCantMultiplex = errors.New("fcgi: application cannot multiplex connections")

	// ErrOverloaded is returned by Do (or by Body.Read) when the application
	// ended the request with FCGI_OVERLOADED.
	ErrOverloaded = errors.New("fcgi: application overloaded")

	// ErrUnknownRole is returned by Do (or by Body.Read) when the application
	// ended the request with FCGI_UNKNOWN_ROLE.
	ErrUnknownRole = errors.New("fcgi: application does not support the role")

	// ErrIncomplete is wrapped by the error that Do or Body.Read return when
	// the connection ended before END_REQUEST, for example because the
	// worker died mid-response. The response must not be treated as
	// complete.
	ErrIncomplete = errors.New("fcgi: connection closed before END_REQUEST")

	// ErrParamsTooLarge is returned by ReadPairs when the encoded pairs are
	// longer than the limit.
	ErrParamsTooLarge = errors.New("fcgi: name-value pairs exceed the size limit")

	// ErrBodyTooLarge is returned by Do when a request body of unknown length
	// is longer than Client.MaxBufferedBody.
	ErrBodyTooLarge = errors.New("fcgi: request body of unknown length exceeds the buffer limit")

	// ErrHeaderTimeout is returned by Do when the response header did not
	// arrive within Request.HeaderTimeout.
	ErrHeaderTimeout = errors.New("fcgi: no response header within the header timeout")

	// ErrNULByte is wrapped by the error EnvFromRequest returns when the path,
	// a header or an option holds a NUL byte.
	ErrNULByte = errors.New("fcgi: NUL byte in request")
)
