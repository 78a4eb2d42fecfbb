package fpm

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenLogShared: in a folder others can write, a planted symbolic
// link is not followed and a file of another user is refused; elsewhere
// links are followed.
func TestOpenLogShared(t *testing.T) {
	base := t.TempDir()
	shared := filepath.Join(base, "shared")
	private := filepath.Join(base, "private")
	for _, d := range []string{shared, private} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(shared, 0o1777); err != nil { // as /tmp
		t.Fatal(err)
	}
	target := filepath.Join(base, "target")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{shared, private} {
		if err := os.Symlink(target, filepath.Join(d, "link.log")); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(shared, "fifo.log"), 0o666); err != nil {
		t.Fatal(err)
	}

	if _, err := openLog(filepath.Join(shared, "link.log")); err == nil || !strings.Contains(err.Error(), "is a symbolic link in") {
		t.Errorf("link in a shared folder: %v", err)
	}
	if _, err := openLog(filepath.Join(shared, "fifo.log")); err == nil {
		t.Errorf("a FIFO in a shared folder was opened")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Fatalf("the link's target changed: %q", b)
	}
	f, err := openLog(filepath.Join(shared, "new.log"))
	if err != nil {
		t.Fatalf("a new file in a shared folder: %v", err)
	}
	f.Close()
	f, err = openLog(filepath.Join(private, "link.log"))
	if err != nil {
		t.Fatalf("a link in a private folder: %v", err)
	}
	f.WriteString("appended\n")
	f.Close()
	if b, _ := os.ReadFile(target); string(b) != "keep\nappended\n" {
		t.Errorf("target: %q", b)
	}

	if os.Geteuid() == 0 {
		theirs := filepath.Join(shared, "theirs.log")
		if err := os.WriteFile(theirs, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := openLog(theirs); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("another user's file in a shared folder: %v", err)
		}
	}
}
