package worker

import (
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// FuzzFilter: whatever the web server sends, the filter hands on whole
// records (or nothing) and does not panic.
func FuzzFilter(f *testing.F) {
	f.Add(rawRequest(1, false, "/"), 64)
	f.Add(rawRequest(3, true, "/x"), 5)
	f.Add(fcgi.AppendRecords(nil, fcgi.TypeGetValues, 0, fcgi.AppendPair(nil, fcgi.MaxConns, "")), 8)
	f.Add(fcgi.AppendRecords(nil, 42, 0, []byte("junk")), 1)
	f.Add(fcgi.AppendRecords(fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, true), fcgi.TypeAbortRequest, 1, nil), 3)
	f.Fuzz(func(t *testing.T, stream []byte, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1 + chunk&0xff
		}
		filtered(t, stream, chunk)
	})
}
