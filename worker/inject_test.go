package worker

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

// TestInjectProtocol: net/http/fcgi answers 500 without SERVER_PROTOCOL;
// the worker supplies it, so a minimal client (cgi-fcgi) gets its answer.
func TestInjectProtocol(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "proto="+r.Proto) }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/x", "SCRIPT_FILENAME": "/x"}, "proto=HTTP/1.0"},
		{map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/x", "SERVER_PROTOCOL": "HTTP/1.1"}, "proto=HTTP/1.1"},
	} {
		resp, err := ts.client.Do(ctx, &fcgi.Request{Params: tc.params})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%v: %d %q, want 200 %q", tc.params, resp.StatusCode, b, tc.want)
		}
	}
}

// TestRecordTrackerSplit: the insertion lands right after BEGIN_REQUEST
// whatever the read sizes.
func TestRecordTrackerSplit(t *testing.T) {
	stream := fcgi.AppendBeginRequest(nil, 7, fcgi.RoleResponder, false)
	stream = fcgi.AppendRecords(stream, fcgi.TypeParams, 7, fcgi.AppendPair(nil, "A", "b"))
	stream = fcgi.AppendRecords(stream, fcgi.TypeParams, 7, nil)
	for _, chunk := range []int{1, 3, 8, 13, 64} {
		var tr recordTracker
		var out []byte
		rest := stream
		for len(rest) > 0 || len(tr.inject) > 0 {
			if len(tr.inject) > 0 {
				out = append(out, tr.inject...)
				tr.inject = nil
				continue
			}
			n := min(chunk, len(rest))
			k := tr.feed(rest[:n])
			out = append(out, rest[:k]...)
			rest = rest[k:]
		}
		want := fcgi.AppendBeginRequest(nil, 7, fcgi.RoleResponder, false)
		want = fcgi.AppendRecords(want, fcgi.TypeParams, 7, protoParams)
		want = append(want, stream[16:]...)
		if !bytes.Equal(out, want) {
			t.Errorf("chunk %d:\n got %v\nwant %v", chunk, out, want)
		}
	}
}
