package dispatch

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// FuzzWorkerAnswer has a worker answer every request with arbitrary bytes
// and then close its connection: the client gets an answer or a closed
// connection, never a hang, and nothing panics (the worker's records and
// its CGI header block are decoded by the dispatcher).
func FuzzWorkerAnswer(f *testing.F) {
	ok := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("Status: 404 Not Found\r\nX: y\r\n\r\nbody"))
	ok = fcgi.AppendRecords(ok, fcgi.TypeStdout, 1, nil)
	f.Add(fcgi.AppendEndRequest(ok, 1, 0, fcgi.StatusRequestComplete))
	f.Add(fcgi.AppendEndRequest(fcgi.AppendRecords(nil, fcgi.TypeStdout, 7, []byte("Location: /x\n\n")), 9, 0, 0))
	f.Add(fcgi.AppendRecords(nil, fcgi.TypeGetValuesResult, 0, []byte("junk")))
	f.Add([]byte{1, 6, 0, 1, 0xff, 0xff, 0, 0, 'x'})
	addr := filepath.Join(f.TempDir(), "w.sock")
	answers := make(chan []byte, 1)
	rawWorker(f, addr, func() ([]byte, bool) {
		select {
		case a := <-answers:
			return a, true
		case <-time.After(500 * time.Millisecond):
			return nil, true
		}
	})
	d := New(Config{MaxQueue: 1, QueueTimeout: time.Second})
	d.AddWorker(1, addr, 0)
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() { d.ServeConn(server); close(done) }()
		answers <- in
		req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
		req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, params("GET", "/a", "/srv/a")))
		req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
		req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
		go client.Write(req)
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, client)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no end of the answer in 5 s")
		}
		client.Close()
		<-done
		select { // a request that never reached the worker leaves its answer
		case <-answers:
		default:
		}
	})
}
