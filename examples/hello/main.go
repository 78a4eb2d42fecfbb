// Command hello is a small gofpm worker used by the demo pool, the tests and
// the benchmarks.
//
//	/            "hello from gofpm worker pid=<pid> request=<n>" (also any other path)
//	/sleep?ms=N  waits N milliseconds, then answers "slept N ms pid=<pid>"
//	/crash       exits the process with code 3 in the middle of the request
//	/echo        answers the request body
//	/env         the FastCGI params of the request as a JSON object
//	/stream?n=N&ms=M  N lines "tick I", each flushed, M milliseconds apart
//	/big?mib=N   N MiB of "x", then says "sent N MiB" on stderr
//	/api/...     {"lang": "go", "pid": N, "query": Q} (examples/polyglot)
//
// Run it under gofpm (make run), or standalone: hello -listen 127.0.0.1:9000.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofpm/gofpm/worker"
)

func main() {
	if err := worker.Serve(newMux()); err != nil {
		log.Fatal(err)
	}
}

func newMux() *http.ServeMux {
	var served atomic.Int64
	pid := os.Getpid()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from gofpm worker pid=%d request=%d\n", pid, served.Add(1))
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		// Said on stderr so tests (and operators with catch_workers_output)
		// can see that the request is in flight.
		fmt.Fprintf(os.Stderr, "sleeping %d ms\n", ms)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "slept %d ms pid=%d\n", ms, pid)
	})
	mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(os.Stderr, "crashing on purpose (pid=%d)\n", pid)
		os.Exit(3)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// Read the whole body before answering: once the response headers
		// arrive, nginx stops sending the rest of the request body, so a
		// handler that echoes while it reads waits forever behind nginx.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Write(body)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		w.Header().Set("Content-Type", "text/event-stream")
		fl, _ := w.(http.Flusher)
		for i := 1; i <= n; i++ {
			if i > 1 {
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "tick %d\n", i)
			if fl != nil {
				fl.Flush()
			}
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("mib"))
		if err != nil || n < 0 || n > 1024 {
			http.Error(w, "mib must be an integer from 0 to 1024", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n<<20))
		chunk := []byte(strings.Repeat("x", 1<<20))
		for range n {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		fmt.Fprintf(os.Stderr, "sent %d MiB\n", n)
	})
	// The polyglot example's interface: the same JSON from every language.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"lang": "go", "pid": pid, "query": r.URL.RawQuery})
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(params(r))
	})
	return mux
}

// params rebuilds the FastCGI params of r: net/http/fcgi moves the standard
// ones into the *http.Request and keeps the rest in fcgi.ProcessEnv
// (SCRIPT_NAME and PATH_INFO are not kept anywhere).
func params(r *http.Request) map[string]string {
	env := fcgi.ProcessEnv(r)
	env["REQUEST_METHOD"] = r.Method
	env["REQUEST_URI"] = r.URL.RequestURI()
	env["QUERY_STRING"] = r.URL.RawQuery
	env["SERVER_PROTOCOL"] = r.Proto
	env["CONTENT_TYPE"] = r.Header.Get("Content-Type")
	if r.ContentLength >= 0 {
		env["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		env["REMOTE_ADDR"], env["REMOTE_PORT"] = host, port
	}
	if r.TLS != nil {
		env["HTTPS"] = "on"
	}
	if r.Host != "" {
		env["HTTP_HOST"] = r.Host
	}
	for k, v := range r.Header {
		if k == "Content-Type" || k == "Content-Length" {
			continue
		}
		env["HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = strings.Join(v, ", ")
	}
	return env
}
