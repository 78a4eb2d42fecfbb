package dispatch

import (
	"io"
	"net"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// FuzzClientStream feeds arbitrary bytes as a client connection to a
// dispatcher without workers (every well-formed request gets its 503):
// nothing may panic or hang, whatever the records say.
func FuzzClientStream(f *testing.F) {
	req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, true)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, params("GET", "/a.php?x", "/srv/a.php")))
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, []byte("body"))
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
	f.Add(req)
	f.Add(append(fcgi.AppendRecords(nil, fcgi.TypeGetValues, 0, fcgi.AppendPair(nil, fcgi.MpxsConns, "")), req...))
	f.Add(append(fcgi.AppendBeginRequest(nil, 2, fcgi.RoleFilter, false), req[:20]...))
	f.Add(fcgi.AppendRecords(nil, fcgi.TypeParams, 1, []byte{0x80, 0, 0}))
	d := New(Config{MaxQueue: 0, Extensions: []string{".php"}})
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() { d.ServeConn(server); close(done) }()
		go io.Copy(io.Discard, client)
		client.Write(in)
		client.Close()
		<-done
	})
}
