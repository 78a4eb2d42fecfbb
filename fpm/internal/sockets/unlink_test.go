package sockets

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestCloseRemovesOnlyItsOwn: Close and CloseInherited remove a socket
// file only while it is still the one the set made or took; a socket
// someone else bound at the path since, or another file, stays.
func TestCloseRemovesOnlyItsOwn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "www.sock")
	s := New(Probe{})
	if _, _, err := s.Listen(unixSpec(path)); err != nil {
		t.Fatal(err)
	}
	// Another master's socket at the same path.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s.Close(true, func(p string, err error) { t.Errorf("removing %s: %v", p, err) })
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close removed the other socket: %v", err)
	}

	// An inherited socket whose path has been replaced by a plain file.
	path2 := filepath.Join(dir, "old.sock")
	ln, err := net.Listen("unix", path2)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	f, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	s2 := New(Probe{})
	if err := s2.Inherit(strconv.Itoa(int(f.Fd())) + "=" + path2); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path2); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path2, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2.CloseInherited()
	if b, err := os.ReadFile(path2); err != nil || string(b) != "not ours" {
		t.Fatalf("CloseInherited removed a file that is not its socket: %v", err)
	}

	// Its own socket is removed.
	path3 := filepath.Join(dir, "own.sock")
	s3 := New(Probe{})
	if _, _, err := s3.Listen(unixSpec(path3)); err != nil {
		t.Fatal(err)
	}
	s3.Close(true, nil)
	if _, err := os.Lstat(path3); !os.IsNotExist(err) {
		t.Fatalf("its own socket is still there: %v", err)
	}
}
