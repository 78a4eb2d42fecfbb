package worker

import (
	"bytes"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// TestStripDate: the Date line net/http/fcgi adds leaves the header block
// of a page's first STDOUT record, and nothing else changes; other
// requests and later records are passed as they are.
func TestStripDate(t *testing.T) {
	const head = "Status: 200 OK\r\nCache-Control: no-cache\r\nContent-Type: text/plain\r\n"
	rec := func(id uint16, s string) []byte { return fcgi.AppendRecords(nil, fcgi.TypeStdout, id, []byte(s)) }
	tests := []struct {
		name   string
		marked bool
		in     []byte
		want   []byte // nil: passed unchanged
	}{
		{"page answer", true, rec(1, head+"Date: Wed, 02 Dec 2026 06:00:00 GMT\r\nExpires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\npool: www\r\nDate: in the body stays\n"),
			rec(1, head+"Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\npool: www\r\nDate: in the body stays\n")},
		{"Date last", true, rec(1, head+"Date: x\r\n\r\nbody"), rec(1, head+"\r\nbody")},
		{"not marked", false, rec(1, head+"Date: x\r\n\r\nbody"), nil},
		{"no Date", true, rec(1, head+"\r\nbody"), nil},
		{"header not complete", true, rec(1, head+"Date: x\r\n"), nil},
		{"stderr record", true, fcgi.AppendRecords(nil, fcgi.TypeStderr, 1, []byte("Date: x\r\n\r\n")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{}
			if tt.marked {
				c.dropDate(1)
			}
			got, ok := c.stripDate(tt.in)
			if tt.want == nil {
				if ok {
					t.Fatalf("changed to %q", got)
				}
				return
			}
			if !ok || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %q (%v), want %q", got, ok, tt.want)
			}
			// Only the first record of the answer is looked at.
			if _, again := c.stripDate(tt.in); again {
				t.Errorf("a second record was changed too")
			}
		})
	}
}
