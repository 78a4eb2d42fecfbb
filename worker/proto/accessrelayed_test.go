package proto

import (
	"bytes"
	"testing"
	"time"
)

func TestLogRelayed(t *testing.T) {
	var out bytes.Buffer
	l, err := NewAccessLogger(&out, `%R %u "%m %r%Q%q" %s %f %l %{HTTP_X_TEST}e %{mili}d %C %{kilo}M`, "www")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	l.LogRelayed(&RelayedRequest{
		Params: map[string]string{
			"REQUEST_METHOD": "POST", "REQUEST_URI": "/app/index.php?a=1", "SCRIPT_NAME": "/app/index.php",
			"QUERY_STRING": "a=1", "SCRIPT_FILENAME": "/srv/app/index.php", "SERVER_PROTOCOL": "HTTP/1.1",
			"REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "4711", "CONTENT_LENGTH": "5",
			"HTTP_X_TEST": "yes", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0", // alice:secret
		},
		Start: start, End: start.Add(20 * time.Millisecond), Status: 201,
		CPU: 10 * time.Millisecond, Memory: 4 << 20,
	})
	want := `192.0.2.7 alice "POST /app/index.php?a=1" 201 /srv/app/index.php 5 yes 20.000 50.00 4096` + "\n"
	if out.String() != want {
		t.Fatalf("line\n%q, want\n%q", out.String(), want)
	}
}
