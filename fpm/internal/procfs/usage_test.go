package procfs

import (
	"os"
	"testing"
	"time"
)

// A real stat line of a process (comm with a space and a parenthesis),
// fields 14/15 (utime 250, stime 50 ticks), 22 (starttime 1000 ticks),
// 23 (vsize) and 24 (rss pages).
const usageLine = "4242 (go (x) y) S 1 4242 4242 0 -1 4194560 10 0 0 0 250 50 0 0 20 0 7 0 1000 1234567 89 18446744073709551615\n"

func TestParseUsage(t *testing.T) {
	boot := time.Unix(1700000000, 0)
	u, err := parseUsage([]byte(usageLine), boot)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{CPU: 3 * time.Second, Start: boot.Add(10 * time.Second), VSize: 1234567, RSS: 89 * uint64(os.Getpagesize())}
	if u != want {
		t.Fatalf("parseUsage = %+v, want %+v", u, want)
	}
	for _, bad := range []string{"4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 10 0 0 0 x 50 0 0 20 0 7 0 1000 1 2"} {
		if _, err := parseUsage([]byte(bad), boot); err == nil {
			t.Errorf("parseUsage(%q): no error", bad)
		}
	}
	if bt, err := parseBootTime([]byte("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n")); err != nil || !bt.Equal(boot) {
		t.Errorf("parseBootTime = %v, %v", bt, err)
	}
	if _, err := parseBootTime([]byte("cpu 1\n")); err == nil {
		t.Error("parseBootTime without btime: no error")
	}
}

// TestReadSelfUsage: this test process started in the past minute or so,
// has used some CPU, holds open files and has a resident set.
func TestReadSelfUsage(t *testing.T) {
	f, err := os.Open("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := ReadSelfUsage()
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(u.Start); age < -time.Second || age > 10*time.Minute {
		t.Errorf("started %s ago", age)
	}
	if u.OpenFDs < 4 || u.MaxFDs == 0 || u.RSS == 0 || u.VSize < u.RSS || u.MaxVSize == 0 {
		t.Errorf("usage %+v", u)
	}
}
