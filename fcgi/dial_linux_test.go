//go:build linux

package fcgi

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDialUnix: the client's own Unix dial connects, reads and writes with
// deadlines, and fails like net's dial (a *net.OpError naming connect).
func TestDialUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	if _, err := dialUnix(context.Background(), &net.UnixAddr{Name: path, Net: "unix"}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("dial of a missing socket: %v, want ENOENT", err)
	} else if oe, ok := err.(*net.OpError); !ok || oe.Op != "dial" {
		t.Fatalf("error %T %v, want a *net.OpError of dial", err, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dialUnix(ctx, &net.UnixAddr{Name: path, Net: "unix"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context: %v", err)
	}

	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := dialUnix(context.Background(), &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != path {
		t.Errorf("RemoteAddr %q, want %q", c.RemoteAddr(), path)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a net.Error timeout", err)
	}
	if oe, ok := err.(*net.OpError); !ok || oe.Op != "read" {
		t.Fatalf("read error %T, want *net.OpError", err)
	}
}
