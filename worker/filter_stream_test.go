package worker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gofpm/gofpm/fcgi"
)

// testFilter returns a filter over the client end of a pipe, on a server
// with no listener, and the web server's end.
func testFilter(t testing.TB) (*conn, net.Conn) {
	s := &server{concurrency: 1, slots: make(chan struct{}, 1), idle: make(chan struct{}, 1)}
	s.slots <- struct{}{}
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return newConn(a, s), b
}

// filtered feeds stream to a filter in writes of chunk bytes and returns
// the records net/http/fcgi would read from it, read 1 to 13 bytes at a
// time.
func filtered(t testing.TB, stream []byte, chunk int) ([]fcgi.Record, error) {
	c, peer := testFilter(t)
	go func() {
		for rest := stream; len(rest) > 0; {
			n := min(chunk, len(rest))
			if _, err := peer.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		peer.Close()
	}()
	go io.Copy(io.Discard, peer) // the filter's own answers
	var got []byte
	p := make([]byte, 13)
	var err error
	for i := 0; ; i++ {
		var n int
		n, err = c.Read(p[:1+i%13])
		got = append(got, p[:n]...)
		if err != nil {
			break
		}
	}
	c.Close()
	var recs []fcgi.Record
	for r := bytes.NewReader(got); r.Len() > 0; {
		rec, rerr := fcgi.ReadRecord(r, nil)
		if rerr != nil {
			t.Fatalf("the filter handed out a broken record stream: %v", rerr)
		}
		recs = append(recs, rec)
	}
	return recs, err
}

// TestFilterInsertsParams: the inserted PARAMS record lands right after
// BEGIN_REQUEST whatever the read and write sizes, and the rest passes
// unchanged.
func TestFilterInsertsParams(t *testing.T) {
	stream := fcgi.AppendBeginRequest(nil, 7, fcgi.RoleResponder, false)
	stream = fcgi.AppendRecords(stream, fcgi.TypeParams, 7, fcgi.AppendPair(nil, "A", "b"))
	stream = fcgi.AppendRecords(stream, fcgi.TypeParams, 7, nil)
	stream = fcgi.AppendRecords(stream, fcgi.TypeStdin, 7, []byte("body"))
	for _, chunk := range []int{1, 3, 8, 13, 64} {
		recs, err := filtered(t, stream, chunk)
		if err != io.EOF {
			t.Fatalf("chunk %d: read error %v, want EOF", chunk, err)
		}
		var types []fcgi.RecordType
		for _, r := range recs {
			types = append(types, r.Type)
		}
		want := []fcgi.RecordType{fcgi.TypeBeginRequest, fcgi.TypeParams, fcgi.TypeParams, fcgi.TypeParams, fcgi.TypeStdin}
		if len(types) != len(want) {
			t.Fatalf("chunk %d: records %v, want %v", chunk, types, want)
		}
		ins, err := fcgi.ReadPairs(recs[1].Content, 0)
		if err != nil || ins["SERVER_PROTOCOL"] != "HTTP/1.0" || ins[abortParam] == "" || recs[1].RequestID != 7 {
			t.Errorf("chunk %d: inserted params %v, %v", chunk, ins, err)
		}
		if string(recs[2].Content) != string(fcgi.AppendPair(nil, "A", "b")) || string(recs[4].Content) != "body" {
			t.Errorf("chunk %d: records changed: %+v", chunk, recs)
		}
	}
}

// TestFilterBadVersion: a record of another version ends the stream.
func TestFilterBadVersion(t *testing.T) {
	stream := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, false)
	stream[0] = 2
	if _, err := filtered(t, stream, 64); !errors.Is(err, fcgi.ErrProtocol) {
		t.Fatalf("read error %v, want a protocol error", err)
	}
}

// TestFilterCoalescesEnd: once the handler has returned, the end of its
// stdout and its END_REQUEST reach the web server in one write; before
// that, each record goes out at once.
func TestFilterCoalescesEnd(t *testing.T) {
	c, peer := testFilter(t)
	body := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("early"))
	end := fcgi.AppendRecords(nil, fcgi.TypeStdout, 1, []byte("late"))
	end = fcgi.AppendRecords(end, fcgi.TypeStdout, 1, nil)
	end = fcgi.AppendEndRequest(end, 1, 0, fcgi.StatusRequestComplete)
	c.beginRequest(1) // as its BEGIN_REQUEST does
	go func() {
		c.Write(body)
		c.handlerDone(1, c.tokenOf(1))
		for r := bytes.NewReader(end); r.Len() > 0; {
			_, wire, err := fcgi.ReadRecordWire(r, make([]byte, fcgi.MaxRecordSize))
			if err != nil {
				panic(err)
			}
			c.Write(wire) // one record per Write, as net/http/fcgi does
		}
	}()
	p := make([]byte, 1024)
	for _, want := range [][]byte{body, end} {
		n, err := peer.Read(p)
		if err != nil || !bytes.Equal(p[:n], want) {
			t.Fatalf("one write of %x, %v; want %x", p[:n], err, want)
		}
	}
}
