package fcgi

// Fuzz targets: arbitrary bytes from a peer must never panic, and what they
// make us allocate must stay bounded by the input size, whatever lengths
// the bytes claim.

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// allocated returns the bytes allocated by the process so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// allocSlack covers allocations unrelated to the input (errors, the fuzzing
// machinery, runtime internals).
const allocSlack = 256 << 10

func FuzzReadRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendRecords(nil, TypeStdout, 1, []byte("hello")))
	f.Add(AppendBeginRequest(nil, 1, RoleResponder, true))
	f.Add(AppendEndRequest(nil, 1, 0, StatusOverloaded))
	f.Add([]byte{1, 6, 0, 1, 0xff, 0xff, 0xff, 0}) // claims 65535+255 bytes, has none
	f.Add([]byte{2, 6, 0, 1, 0, 0, 0, 0})          // bad version
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(AppendRecords(AppendRecords(nil, TypeParams, 1, bytes.Repeat([]byte{0x80}, 70000)), TypeParams, 1, nil))

	buf := make([]byte, MaxRecordSize)
	f.Fuzz(func(t *testing.T, data []byte) {
		// With a full-size buf: nothing allocated per record.
		before := allocated()
		r := bytes.NewReader(data)
		records := 0
		for {
			rec, err := ReadRecord(r, buf)
			if err != nil {
				break
			}
			records++
			if len(rec.Content) > MaxContentSize {
				t.Fatalf("content of %d bytes", len(rec.Content))
			}
		}
		if got := allocated() - before; got > allocSlack {
			t.Fatalf("%d bytes allocated for %d input bytes with a full buf", got, len(data))
		}

		// The wire bytes are the record as it came.
		r = bytes.NewReader(data)
		for {
			rec, wire, err := ReadRecordWire(r, buf)
			if err != nil {
				break
			}
			again, err := ReadRecord(bytes.NewReader(wire), nil)
			if err != nil || again.Type != rec.Type || again.RequestID != rec.RequestID || !bytes.Equal(again.Content, rec.Content) {
				t.Fatalf("wire bytes %x read back as %+v, %v; want %+v", wire, again, err, rec)
			}
		}

		// Without buf: at most one record's worth per record read.
		before = allocated()
		r = bytes.NewReader(data)
		for {
			if _, err := ReadRecord(r, nil); err != nil {
				break
			}
		}
		limit := uint64(records+1)*(MaxRecordSize+2*HeaderSize) + allocSlack
		if got := allocated() - before; got > limit {
			t.Fatalf("%d bytes allocated for %d input bytes (%d records) without buf", got, len(data), records)
		}
	})
}

func FuzzReadPairs(f *testing.F) {
	f.Add([]byte{}, 0)
	f.Add([]byte("\x0f\x01FCGI_MPXS_CONNS0"), 0)
	f.Add(AppendPairs(nil, map[string]string{"SCRIPT_FILENAME": "/x.php", "Q": ""}), 100)
	f.Add(AppendPair(nil, string(bytes.Repeat([]byte("n"), 200)), "v"), 1<<20)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 'x'}, 0)
	f.Add([]byte{1, 0x80, 0, 0}, 0)
	f.Add(bytes.Repeat([]byte{0, 0}, 100), 0)
	f.Add(bytes.Repeat([]byte{1, 0, 'a'}, 100), 10)

	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		before := allocated()
		m, err := ReadPairs(data, limit)
		// The map and one copy of the input: a small constant per byte.
		if got := allocated() - before; got > uint64(64*len(data))+allocSlack {
			t.Fatalf("%d bytes allocated for %d input bytes", got, len(data))
		}
		if err != nil {
			if m != nil {
				t.Fatal("map returned with an error")
			}
			return
		}
		if limit > 0 && len(data) > limit {
			t.Fatalf("%d bytes accepted over the limit %d", len(data), limit)
		}
		// What was accepted must survive a round trip.
		again, err := ReadPairs(AppendPairs(nil, m), 0)
		if err != nil || !maps.Equal(m, again) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzResponse feeds arbitrary bytes to the client as the application's
// reply.
func FuzzResponse(f *testing.F) {
	ok := AppendRecords(nil, TypeStdout, 1, []byte("Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nhello"))
	ok = AppendRecords(ok, TypeStderr, 1, []byte("warning"))
	ok = AppendRecords(ok, TypeStdout, 1, nil)
	ok = AppendEndRequest(ok, 1, 0, StatusRequestComplete)
	f.Add(ok)
	f.Add(ok[:len(ok)-5])
	f.Add(AppendEndRequest(nil, 1, 0, StatusOverloaded))
	f.Add(AppendEndRequest(nil, 1, 7, StatusUnknownRole))
	f.Add(append(AppendUnknownType(nil, 9), ok...))
	f.Add(AppendRecords(nil, TypeStdout, 2, []byte("\r\n")))
	f.Add(AppendRecords(nil, TypeStdout, 1, []byte("Location: /x\n\nbody")))
	f.Add(AppendRecords(nil, TypeStdout, 1, bytes.Repeat([]byte("X-A: b\r\n"), 9000)))
	f.Add([]byte("HTTP/1.1 502 Bad Gateway\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		var wg sync.WaitGroup
		c := &Client{Dial: func(context.Context) (net.Conn, error) {
			cli, srv := net.Pipe()
			wg.Add(2)
			go func() { // drain the request
				defer wg.Done()
				io.Copy(io.Discard, srv)
			}()
			go func() { // reply, then hang up
				defer wg.Done()
				srv.Write(data)
				srv.Close()
			}()
			return cli, nil
		}}
		before := allocated()
		resp, err := c.Do(context.Background(), &Request{Params: map[string]string{"REQUEST_METHOD": "GET"}})
		if err == nil {
			n, err := io.Copy(io.Discard, resp.Body)
			if n > int64(len(data)) {
				t.Fatalf("body of %d bytes from %d input bytes", n, len(data))
			}
			if err == nil && !bytes.Contains(data, []byte{1, byte(TypeEndRequest)}) {
				t.Fatal("clean end of body without END_REQUEST")
			}
			if len(resp.Stderr()) > maxStderr || len(resp.Stderr()) > len(data) {
				t.Fatalf("stderr of %d bytes", len(resp.Stderr()))
			}
			resp.Body.Close()
			resp.Body.Close()
		} else if resp != nil {
			t.Fatal("response with an error")
		}
		wg.Wait()
		// The header block is bounded by maxHeaderBytes; the rest streams.
		if got := allocated() - before; got > uint64(8*maxHeaderBytes+16*len(data))+allocSlack {
			t.Fatalf("%d bytes allocated for %d input bytes", got, len(data))
		}
	})
}

// FuzzResponder: whatever a client sends, a Responder answers or returns;
// it never panics or hangs.
func FuzzResponder(f *testing.F) {
	req := AppendBeginRequest(nil, 1, RoleResponder, false)
	req = AppendRecords(req, TypeParams, 1, AppendPairs(nil, map[string]string{"REQUEST_URI": "/ping"}))
	req = AppendRecords(req, TypeParams, 1, nil)
	req = AppendRecords(req, TypeStdin, 1, nil)
	f.Add(req)
	f.Add(req[:20])
	f.Add(append(AppendBeginRequest(nil, 1, RoleFilter, true), req...))
	f.Add([]byte{1, 9, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			echoResponder().ServeConn(srv)
			srv.Close()
		}()
		go io.Copy(io.Discard, cli)
		cli.Write(data)
		cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ServeConn did not return after the client hung up")
		}
	})
}
