package fcgi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/gofpm/gofpm/fcgi"
)

func ExampleClient_Do() {
	// A FastCGI application to talk to: here the standard library's, on a
	// Unix socket. In production this is php-fpm or a gofpm pool.
	dir, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go stdfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	}))

	network, address, err := fcgi.ParseAddress("unix:" + sock)
	if err != nil {
		log.Fatal(err)
	}
	client := &fcgi.Client{Network: network, Address: address, DialTimeout: 5 * time.Second}

	// The CGI variables of an incoming HTTP request, as nginx would send them.
	r := httptest.NewRequest("GET", "/index.php", nil)
	params, err := fcgi.EnvFromRequest(r, fcgi.EnvOptions{DocumentRoot: "/var/www", ServerSoftware: "gofpm"})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Do(ctx, &fcgi.Request{Params: params, Body: r.Body, ContentLength: r.ContentLength})
	if err != nil {
		log.Fatal(err) // an HTTP front would answer 502 here
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // an error here means a cut response
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(string(body))
	fmt.Printf("stderr: %q\n", resp.Stderr())
	// Output:
	// 200 text/plain
	// hello from /index.php
	// stderr: ""
}
