package worker

import (
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
