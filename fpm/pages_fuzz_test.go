package fpm

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// FuzzPagesServer: whatever a client sends to pm_status_listen, the page
// server answers or hangs up; it never panics or hangs.
func FuzzPagesServer(f *testing.F) {
	req := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, fcgi.AppendPairs(nil, map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/ping", "SCRIPT_FILENAME": "/ping"}))
	req = fcgi.AppendRecords(req, fcgi.TypeParams, 1, nil)
	req = fcgi.AppendRecords(req, fcgi.TypeStdin, 1, nil)
	f.Add(req)
	f.Add(req[:20])
	f.Add(append(fcgi.AppendBeginRequest(nil, 1, fcgi.RoleFilter, true), req...))
	f.Add([]byte{1, 9, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveFCGIPages(srv, func(map[string]string) pageResponse {
				return pageResponse{header: []string{"Content-type: text/plain"}, body: []byte("pong")}
			})
			srv.Close()
		}()
		go io.Copy(io.Discard, cli)
		cli.SetDeadline(time.Now().Add(2 * time.Second))
		cli.Write(data)
		cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("page server did not return after the client hung up")
		}
	})
}
