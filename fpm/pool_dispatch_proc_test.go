package fpm

import (
	"os"
	"testing"
)

func TestStatCPU(t *testing.T) {
	line := []byte("123 (php cgi) (x)) S 1 123 123 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 100 1000 50\n")
	if got := statCPU(line); got != 22 {
		t.Fatalf("statCPU = %d, want 17+5", got)
	}
	for _, bad := range []string{"", "no paren", "1 (x) S 1", "1 (x) S 1 2 3 4 5 6 7 8 9 x y"} {
		if got := statCPU([]byte(bad)); got != 0 {
			t.Errorf("statCPU(%q) = %d, want 0", bad, got)
		}
	}
}

func TestProcFilesOfSelf(t *testing.T) {
	pf := openProcFiles(os.Getpid())
	defer pf.close()
	_, rss := pf.read()
	if rss <= 0 {
		t.Fatalf("rss %d of this process", rss)
	}
	pf.close()
	if ticks, rss := pf.read(); ticks != 0 || rss != 0 {
		t.Fatalf("after close: %d %d", ticks, rss)
	}
}
